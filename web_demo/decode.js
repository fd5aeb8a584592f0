// Decoding in the browser: a file, a URL or a video frame -> {width, height, data: RGB bytes}.
//
// The contract's first step: RGB uint8 with EXIF orientation applied and alpha dropped, the bytes
// Pillow's ImageOps.exif_transpose(image).convert("RGB") gives. createImageBitmap applies EXIF
// orientation itself (JPEG and PNG eXIf; the spec's "from-image", which Chromium cannot switch
// off), so it is not done again here. Colour management is switched off (Pillow ignores ICC
// profiles too) and the pixels are read through WebGL, which keeps RGB under transparent pixels;
// a 2D canvas premultiplies alpha and would change them. Without WebGL2 the 2D canvas is used,
// exact for opaque images.

async function readPixelsGl(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const gl = canvas.getContext("webgl2");
  if (!gl || Math.max(bitmap.width, bitmap.height) > gl.getParameter(gl.MAX_TEXTURE_SIZE)) return null;
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
  gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
  const framebuffer = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
  const rgba = new Uint8Array(bitmap.width * bitmap.height * 4);
  gl.readPixels(0, 0, bitmap.width, bitmap.height, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
  gl.deleteFramebuffer(framebuffer);
  gl.deleteTexture(texture);
  return rgba;
}

function readPixels2d(bitmap) {
  const context = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d");
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
}

async function fromBitmap(bitmap) {
  const rgba = (await readPixelsGl(bitmap)) ?? readPixels2d(bitmap);
  const data = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  const image = {width: bitmap.width, height: bitmap.height, data};
  bitmap.close();
  return image;
}

const BITMAP_OPTIONS = {premultiplyAlpha: "none", colorSpaceConversion: "none"};

/** A Blob or File (PNG, JPEG, WebP, GIF's first frame, BMP) as RGB. */
export async function decodeBlob(blob) {
  return fromBitmap(await createImageBitmap(blob, BITMAP_OPTIONS));
}

/** An image at a URL of this page's origin as RGB. */
export async function decodeUrl(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return decodeBlob(await response.blob());
}

/** The current frame of a playing <video> (the webcam) as RGB. */
export async function decodeVideoFrame(video) {
  return fromBitmap(await createImageBitmap(video, BITMAP_OPTIONS));
}
