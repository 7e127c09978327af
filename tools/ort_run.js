// ort_run.js: runs an ONNX model on ONNX Runtime (the reference the tests
// compare dcc's logits with):  node tools/ort_run.js MODEL.onnx IN.npy OUT.npy
// IN.npy is float32, C order, its first axis the batch; OUT.npy gets the
// model's first output as float32.  onnxruntime-node is found through
// NODE_PATH (tools/deps.sh installs it under build/ort).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
	const b = fs.readFileSync(path);
	if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
	const major = b[6], hlen = major >= 2 ? b.readUInt32LE(8) : b.readUInt16LE(8), off = major >= 2 ? 12 : 10;
	const h = b.toString('latin1', off, off + hlen);
	if (!/'descr':\s*'<f4'/.test(h) || /'fortran_order':\s*True/.test(h)) throw new Error(path + ': not float32 C order');
	const shape = h.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter(s => s.trim()).map(Number);
	const data = new Float32Array(b.buffer.slice(b.byteOffset + off + hlen, b.byteOffset + b.length));
	return { shape, data };
}

function writeNpy(path, shape, data) {
	let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape.join(', ') + (shape.length === 1 ? ',' : '') + '), }';
	while ((10 + h.length + 1) % 64) h += ' ';
	h += '\n';
	const head = Buffer.alloc(10);
	head.write('\x93NUMPY', 0, 'latin1');
	head[6] = 1, head[7] = 0;
	head.writeUInt16LE(h.length, 8);
	const tmp = path + '.tmp';
	fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
	fs.renameSync(tmp, path);
}

async function main() {
	const [model, inp, out] = process.argv.slice(2);
	if (!out) throw new Error('usage: node tools/ort_run.js MODEL.onnx IN.npy OUT.npy');
	const x = readNpy(inp);
	const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
	const feeds = {};
	feeds[s.inputNames[0]] = new ort.Tensor('float32', x.data, x.shape);
	const r = await s.run(feeds);
	const y = r[s.outputNames[0]];
	writeNpy(out, y.dims, y.data);
}

main().catch(e => { console.error('ort_run: ' + e.message); process.exit(1); });
