/* zoo.c: the built-in networks as graphs (formats/dct.md "The graph"):
 * lenet300, lenet5, lstm, mlp:..., cnn:..., and the two families with
 * branches, resnet:... (CIFAR-style ResNets of basic blocks with batchnorm
 * and projection shortcuts) and mobilenet:... (MobileNetV2's inverted
 * residuals: 1x1 expansion, 3x3 depthwise, 1x1 projection, ReLU6).  Layer
 * names follow torchvision's modules (layer1.0.conv1, features.1.conv.1.0),
 * so a state_dict export loads into the same net written in PyTorch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"

typedef struct lines {
	char **v;
	size_t n, cap;
	int oom;
} lines;

static void put(lines *L, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (L->oom)
		return;
	if (L->n == L->cap) {
		size_t cap = L->cap ? 2 * L->cap : 64;
		char **v = realloc(L->v, cap * sizeof(*v));
		if (!v) {
			L->oom = 1;
			return;
		}
		L->v = v, L->cap = cap;
	}
	if (!(L->v[L->n] = strdup(buf)))
		L->oom = 1;
	else
		L->n++;
}

static void lines_free(lines *L)
{
	for (size_t i = 0; i < L->n; i++)
		free(L->v[i]);
	free(L->v);
}

/* "A,B,C" of integers lo..hi into v (at most cap); the count, or -1.
 * *rest: what follows the list (its end or the next ':'). */
static int int_list(const char *s, long *v, int cap, long lo, long hi, const char **rest)
{
	int k = 0;
	for (;;) {
		char *end;
		long x = strtol(s, &end, 10);
		if (end == s || x < lo || x > hi || k == cap)
			return -1;
		v[k++] = x;
		if (*end != ',') {
			*rest = end;
			return k;
		}
		s = end + 1;
	}
}

/* conv (bias=0) and batchnorm; a relu or a ReLU6 after them when act says */
static void conv_bn(lines *L, const char *conv, const char *bn, const char *act, int relu6, long in, long out, int k,
		    int stride, long group, const char *from)
{
	char fr[160] = "";
	if (from)
		snprintf(fr, sizeof(fr), " from=%s", from);
	if (group > 1)
		put(L, "conv2d %s in=%ld out=%ld k=%d stride=%d pad=%d group=%ld bias=0%s", conv, in, out, k, stride, k / 2,
		    group, fr);
	else
		put(L, "conv2d %s in=%ld out=%ld k=%d stride=%d pad=%d bias=0%s", conv, in, out, k, stride, k / 2, fr);
	put(L, "batchnorm %s", bn);
	if (act)
		put(L, relu6 ? "clip %s min=0 max=6" : "relu %s", act);
}

static int out_size(int x, int stride) { return (x - 1) / stride + 1; } /* k=3 pad=1 or k=1 pad=0 */

/* resnet:W1,...,Ws:N -- a 3x3 stem of W1 channels (conv1, bn1, relu), then
 * s stages (layer1...) of N basic blocks each: conv3x3-bn-relu-conv3x3-bn
 * plus the block's input, then relu; each stage after the first halves the
 * map with stride 2 in its first block, whose shortcut is a 1x1 conv and a
 * batchnorm (downsample.0, downsample.1) when the shape changes; global
 * average pooling, fc.  resnet:16,32,64:1 is ResNet-8, :3 ResNet-20. */
static int resnet(lines *L, const char *spec, int c, int h, int w, int classes, dcc_error *err)
{
	long wd[8], nb;
	const char *rest;
	int s = int_list(spec + 7, wd, 8, 1, 4096, &rest);
	char *end;
	if (s < 1 || *rest != ':' || (nb = strtol(rest + 1, &end, 10)) < 1 || nb > 32 || *end || end == rest + 1)
		return dcc_fail(err, DCC_E_ARG, "network '%s': resnet:W1,...,Ws:N with 1 to 8 widths of 1..4096 and "
				"1..32 blocks a stage", spec);
	if (h != w)
		return dcc_fail(err, DCC_E_SHAPE, "network '%s' pools square maps; the data is %dx%d", spec, h, w);
	conv_bn(L, "conv1", "bn1", "relu", 0, c, wd[0], 3, 1, 1, NULL);
	char prev[64] = "relu";
	long ch = wd[0];
	for (int st = 0; st < s; st++)
		for (long b = 0; b < nb; b++) {
			int stride = st && !b ? 2 : 1;
			char p[48], n1[64], n2[64], n3[64], n4[64];
			snprintf(p, sizeof(p), "layer%d.%ld", st + 1, b);
			snprintf(n1, sizeof(n1), "%s.conv1", p), snprintf(n2, sizeof(n2), "%s.bn1", p);
			snprintf(n3, sizeof(n3), "%s.relu1", p);
			conv_bn(L, n1, n2, n3, 0, ch, wd[st], 3, stride, 1, NULL);
			snprintf(n1, sizeof(n1), "%s.conv2", p), snprintf(n2, sizeof(n2), "%s.bn2", p);
			conv_bn(L, n1, n2, NULL, 0, wd[st], wd[st], 3, 1, 1, NULL);
			char shortcut[64];
			snprintf(shortcut, sizeof(shortcut), "%s", prev);
			if (stride != 1 || ch != wd[st]) {
				snprintf(n3, sizeof(n3), "%s.downsample.0", p), snprintf(n4, sizeof(n4), "%s.downsample.1", p);
				conv_bn(L, n3, n4, NULL, 0, ch, wd[st], 1, stride, 1, prev);
				snprintf(shortcut, sizeof(shortcut), "%s", n4);
			}
			put(L, "add %s.add from=%s,%s", p, n2, shortcut);
			snprintf(prev, sizeof(prev), "%s.relu2", p);
			put(L, "relu %s", prev);
			h = out_size(h, stride);
			ch = wd[st];
		}
	put(L, "avgpool2d avgpool k=%d stride=%d", h, h);
	put(L, "flatten flatten");
	put(L, "fc fc in=%ld out=%d", ch, classes);
	return 0;
}

/* mobilenet:C0,C1,...,Cs:E[:N] -- MobileNetV2's pattern: a 3x3 stem of C0
 * channels (features.0: conv, bn, ReLU6), then s stages of N (2) inverted
 * residual blocks each (features.1, ...): a 1x1 expansion to E times the
 * block's input channels, a 3x3 depthwise convolution, a 1x1 projection
 * to Ci, each with batchnorm, ReLU6 after the first two (E = 1 drops the
 * expansion, as torchvision does); the block's input is added when the
 * stride is 1 and the channels match; stages after the first halve the
 * map in their first block; global average pooling, fc (classifier.1). */
static int mobilenet(lines *L, const char *spec, int c, int h, int w, int classes, dcc_error *err)
{
	long wd[9], ex, nb = 2;
	const char *rest;
	int s = int_list(spec + 10, wd, 9, 1, 4096, &rest) - 1;
	char *end = NULL;
	int bad = s < 1 || *rest != ':' || (ex = strtol(rest + 1, &end, 10)) < 1 || ex > 16 || end == rest + 1;
	if (!bad && *end == ':') {
		const char *q = end + 1;
		nb = strtol(q, &end, 10);
		bad = end == q || nb < 1 || nb > 16;
	}
	if (bad || *end)
		return dcc_fail(err, DCC_E_ARG, "network '%s': mobilenet:C0,C1,...,Cs:E[:N] with 2 to 9 widths of "
				"1..4096, an expansion of 1..16 and 1..16 blocks a stage", spec);
	if (h != w)
		return dcc_fail(err, DCC_E_SHAPE, "network '%s' pools square maps; the data is %dx%d", spec, h, w);
	conv_bn(L, "features.0.0", "features.0.1", "features.0.2", 1, c, wd[0], 3, 1, 1, NULL);
	char prev[64] = "features.0.2";
	long ch = wd[0];
	int f = 1;
	for (int st = 1; st <= s; st++)
		for (long b = 0; b < nb; b++, f++) {
			int stride = st > 1 && !b ? 2 : 1;
			long hid = ch * ex;
			char n1[64], n2[64], n3[64];
			int i = 0;
			if (ex != 1) {
				snprintf(n1, sizeof(n1), "features.%d.conv.0.0", f);
				snprintf(n2, sizeof(n2), "features.%d.conv.0.1", f);
				snprintf(n3, sizeof(n3), "features.%d.conv.0.2", f);
				conv_bn(L, n1, n2, n3, 1, ch, hid, 1, 1, 1, NULL);
				i = 1;
			}
			snprintf(n1, sizeof(n1), "features.%d.conv.%d.0", f, i);
			snprintf(n2, sizeof(n2), "features.%d.conv.%d.1", f, i);
			snprintf(n3, sizeof(n3), "features.%d.conv.%d.2", f, i);
			conv_bn(L, n1, n2, n3, 1, hid, hid, 3, stride, hid, NULL);
			snprintf(n1, sizeof(n1), "features.%d.conv.%d", f, i + 1);
			snprintf(n2, sizeof(n2), "features.%d.conv.%d", f, i + 2);
			conv_bn(L, n1, n2, NULL, 0, hid, wd[st], 1, 1, 1, NULL);
			if (stride == 1 && ch == wd[st]) {
				snprintf(n3, sizeof(n3), "features.%d.add", f);
				put(L, "add %s from=%s,%s", n3, n2, prev);
				snprintf(prev, sizeof(prev), "%s", n3);
			} else {
				snprintf(prev, sizeof(prev), "%s", n2);
			}
			h = out_size(h, stride);
			ch = wd[st];
		}
	put(L, "avgpool2d avgpool k=%d stride=%d", h, h);
	put(L, "flatten flatten");
	put(L, "fc classifier.1 in=%ld out=%d", ch, classes);
	return 0;
}

static int mlp(lines *L, const char *spec, int c, int h, int w, int classes, int head, dcc_error *err)
{
	int in = c * h * w;
	long sizes[32];
	int k = 0;
	const char *p = spec + 4;
	while (*p && k < 32) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 1 || v > (1L << 24))
			return dcc_fail(err, DCC_E_ARG, "network '%s': sizes must be positive integers joined by '-'", spec);
		sizes[k++] = v;
		p = *end == '-' ? end + 1 : end;
		if (*end && *end != '-')
			return dcc_fail(err, DCC_E_ARG, "network '%s': sizes must be positive integers joined by '-'", spec);
	}
	if (k < 2 || *p)
		return dcc_fail(err, DCC_E_ARG, "network '%s' needs at least an input and an output size", spec);
	if (sizes[0] != in)
		return dcc_fail(err, DCC_E_SHAPE, "network '%s' takes %ld inputs but the data has %dx%dx%d = %d", spec,
				sizes[0], c, h, w, in);
	if (sizes[k - 1] != classes)
		return head == DCC_OP_SOFTMAX_CE
			       ? dcc_fail(err, DCC_E_SHAPE, "network '%s' has %ld outputs but the data has %d classes "
					  "(mlp:...-%d)", spec, sizes[k - 1], classes, classes)
			       : dcc_fail(err, DCC_E_SHAPE, "network '%s' has %ld outputs but the %s head needs %d "
					  "(mlp:...-%d)", spec, sizes[k - 1], dcc_op_name(head), classes, classes);
	put(L, "flatten flatten");
	for (int i = 1; i < k; i++) {
		put(L, "fc fc%d in=%ld out=%ld", i, sizes[i - 1], sizes[i]);
		if (i + 1 < k)
			put(L, "relu relu%d", i);
	}
	return 0;
}

/* cnn:C1,C2,...:F1,...: 3x3 convolutions (padding 1) of C channels each
 * followed by ReLU and 2x2 max-pooling, then fc layers of F units with
 * ReLU, then the classes */
static int cnn(lines *L, const char *spec, int c, int h, int w, int classes, dcc_error *err)
{
	long conv[8], fcs[8];
	int nc = 0, nf = 0, part = 0;
	const char *q = spec + 4;
	while (*q) {
		char *end;
		long v = strtol(q, &end, 10);
		if (end == q || v < 1 || v > 4096 || (part ? nf : nc) == 8)
			return dcc_fail(err, DCC_E_ARG, "network '%s': cnn:C1,C2,...:F1,... with sizes 1..4096", spec);
		if (part)
			fcs[nf++] = v;
		else
			conv[nc++] = v;
		if (*end == ':' && !part)
			part = 1;
		else if (*end && *end != ',')
			return dcc_fail(err, DCC_E_ARG, "network '%s': cnn:C1,C2,...:F1,... with sizes 1..4096", spec);
		q = *end ? end + 1 : end;
	}
	if (!nc)
		return dcc_fail(err, DCC_E_ARG, "network '%s' needs at least one convolution", spec);
	int ch = c, hh = h, ww = w;
	for (int i = 0; i < nc; i++) {
		if (hh < 2 || ww < 2)
			return dcc_fail(err, DCC_E_SHAPE, "network '%s' pools %dx%d images below 1x1", spec, h, w);
		put(L, "conv2d conv%d in=%d out=%ld k=3 stride=1 pad=1", i + 1, ch, conv[i]);
		put(L, "relu crelu%d", i + 1);
		put(L, "maxpool2d pool%d k=2 stride=2", i + 1);
		ch = (int)conv[i], hh /= 2, ww /= 2;
	}
	put(L, "flatten flatten");
	long prev = (long)ch * hh * ww;
	for (int i = 0; i < nf; i++) {
		put(L, "fc fc%d in=%ld out=%ld", i + 1, prev, fcs[i]);
		put(L, "relu relu%d", i + 1);
		prev = fcs[i];
	}
	put(L, "fc fc%d in=%ld out=%d", nf + 1, prev, classes);
	return 0;
}

static int builtin(lines *L, const char *spec, int c, int h, int w, int classes, int head, dcc_error *err)
{
	if (!strcmp(spec, "lenet300")) {
		put(L, "flatten flatten");
		put(L, "fc fc1 in=%d out=300", c * h * w);
		put(L, "relu relu1");
		put(L, "fc fc2 in=300 out=100");
		put(L, "relu relu2");
		put(L, "fc fc3 in=100 out=%d", classes);
	} else if (!strcmp(spec, "lenet5")) {
		int h1 = (h - 4) / 2, w1 = (w - 4) / 2, h2 = (h1 - 4) / 2, w2 = (w1 - 4) / 2;
		if (h < 5 || w < 5 || h1 < 5 || w1 < 5 || h2 < 1 || w2 < 1)
			return dcc_fail(err, DCC_E_SHAPE, "lenet5 cannot fit %dx%d images (it needs at least 16x16)", h, w);
		put(L, "conv2d conv1 in=%d out=20 k=5 stride=1 pad=0", c);
		put(L, "maxpool2d pool1 k=2 stride=2");
		put(L, "conv2d conv2 in=20 out=50 k=5 stride=1 pad=0");
		put(L, "maxpool2d pool2 k=2 stride=2");
		put(L, "flatten flatten");
		put(L, "fc fc1 in=%d out=500", 50 * h2 * w2);
		put(L, "relu relu1");
		put(L, "fc fc2 in=500 out=%d", classes);
	} else if (!strcmp(spec, "lstm")) {
		if (c != 1)
			return dcc_fail(err, DCC_E_SHAPE, "the lstm network reads one-channel images row by row");
		put(L, "lstm lstm in=%d hidden=128 steps=%d", w, h);
		put(L, "fc fc in=128 out=%d", classes);
	} else if (!strncmp(spec, "mlp:", 4)) {
		return mlp(L, spec, c, h, w, classes, head, err);
	} else if (!strncmp(spec, "cnn:", 4)) {
		return cnn(L, spec, c, h, w, classes, err);
	} else if (!strncmp(spec, "resnet:", 7)) {
		return resnet(L, spec, c, h, w, classes, err);
	} else if (!strncmp(spec, "mobilenet:", 10)) {
		return mobilenet(L, spec, c, h, w, classes, err);
	} else {
		return dcc_fail(err, DCC_E_ARG, "unknown network '%s' (lenet300, lenet5, lstm, mlp:IN-H1-...-OUT, "
				"cnn:C1,...:F1,..., resnet:W1,...:N, mobilenet:C0,C1,...:E[:N])", spec);
	}
	return 0;
}

int dcc_net_graph(const char *spec, int c, int h, int w, int classes, int head, dcc_model *m, dcc_error *err)
{
	if (!dcc_op_is_loss(head))
		return dcc_fail(err, DCC_E_ARG, "'%s' is not a loss", dcc_op_name(head));
	lines L = {0};
	int rc = builtin(&L, spec, c, h, w, classes, head, err);
	if (!rc)
		put(&L, "%s loss", dcc_op_name(head));
	int64_t shape[3] = {c, h, w};
	if (!rc && L.oom)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc && !(rc = dcc_model_set_arr_str(m, "dcc.graph", (const char *const *)L.v, L.n, err)) &&
	    !(rc = dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, err)) &&
	    !(rc = dcc_model_set_i64(m, "dcc.classes", classes, err)))
		rc = dcc_model_set_str(m, "dcc.net", spec, err);
	lines_free(&L);
	if (rc == DCC_E_NOMEM)
		return dcc_fail(err, rc, "out of memory");
	if (!rc) {
		/* a spec's sizes can still disagree with the data (a stride-2 map
		 * below 1x1, a width past what a layer takes): the graph's reader
		 * says where */
		dcc_graph *g;
		if (!(rc = dcc_graph_read(m, &g, err)))
			dcc_graph_free(g);
	}
	return rc;
}
