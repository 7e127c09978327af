/* commands.h: the list of subcommands; cmd/dcc.c builds its table from it.
 * Adding a command: a cmd/NAME.c, a line here, man/dcc-NAME.1, tests/cli. */
#ifndef DCC_COMMANDS_H
#define DCC_COMMANDS_H

#define DCC_COMMANDS                                                            \
	X(info, "show the tensors and metadata of a file")                      \
	X(import, "read NumPy, safetensors or IDX files into a .dct container") \
	X(export, "write a container's tensors as .npy, .npz or .safetensors") \
	X(train, "train a network on a data set (SGD; masks respected)")        \
	X(eval, "test accuracy, loss, confusion matrix and logits of a model") \
	X(run, "a model's outputs on any input: one sample, an array, a data set") \
	X(compare, "how far two models' outputs are apart: agreement, error, SQNR") \
	X(prune, "magnitude pruning: unstructured, bank- or PE-balanced; retraining") \
	X(dsd, "dense-sparse-dense training") \
	X(sensitivity, "accuracy of each layer pruned alone, and a per-layer budget") \
	X(share, "weight sharing: k-means codebooks, packed indices, fine-tuning") \
	X(svd, "low-rank factorisation of a fully connected layer") \
	X(fold, "batchnorm and affine layers folded into the layer before them") \
	X(fixed, "dynamic fixed point: per-layer formats, integer-only accuracy") \
	X(encode, "write the compressed blob: sparse layouts and Huffman coding") \
	X(decode, "the exact inverse of dcc encode") \
	X(report, "the compression table of a blob, layer by layer") \
	X(compile, "the accelerator program and DRAM layout of a blob") \
	X(disasm, "print an accelerator program as text assembly") \
	X(asm, "assemble text into an accelerator program") \
	X(emu, "run a blob on the emulated sparse accelerator, with its cycles") \
	X(plot, "PNG pictures: histograms, sparsity, sensitivity, emulator, compression")

#define X(name, summary) int cmd_##name(int argc, char **argv);
DCC_COMMANDS
#undef X

#endif
