// Runs web_demo/preprocess.js on the cases the Python test sends as JSON on stdin:
// [{rgb, width, height, input, out}] -> the input tensor's bytes written to `out`.
import {readFileSync, writeFileSync} from "node:fs";
import {makeInput} from "../../web_demo/preprocess.js";

const cases = JSON.parse(readFileSync(0, "utf-8"));
for (const c of cases) {
  const image = {width: c.width, height: c.height, data: new Uint8Array(readFileSync(c.rgb))};
  const {data} = makeInput(image, c.input);
  writeFileSync(c.out, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
