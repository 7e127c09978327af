/* onnx_shape.c: the shape arithmetic torch.onnx.export writes around
 * view(), chunk() and expand_as() (Shape of an activation, Gather of its
 * dimensions, Unsqueeze, Concat, Add/Sub/Mul/Div of the integers) and
 * around F.pad (ConstantOfShape, a Reshape to pairs, a Slice reversing
 * them, a Transpose), folded to constants while the graph is read: every
 * activation's shape is static but the batch, which stays a symbol
 * (ONNX_BATCH).  Values are vectors of at most 8 integers, or matrices
 * of as many (rows > 1), which only Reshape, Slice, Transpose, Cast and
 * Identity take. */
#include <stdlib.h>
#include <string.h>

#include "onnx_io.h"

#define DEPTH_MAX 32

static int eval(const onnx_read *r, const char *name, int64_t v[8], int *rows, int depth);

/* Input k of n evaluated: its length and rows, or -1. */
static int in_mat(const onnx_read *r, const node_t *n, size_t k, int64_t v[8], int *rows, int depth)
{
	return k < n->n_input && n->input[k] && n->input[k][0] ? eval(r, n->input[k], v, rows, depth + 1) : -1;
}

/* ... a vector's length, or -1 (a matrix too) */
static int in_ints(const onnx_read *r, const node_t *n, size_t k, int64_t v[8], int depth)
{
	int rows = 1, len = in_mat(r, n, k, v, &rows, depth);
	return rows == 1 ? len : -1;
}

/* a op b on the integers, the batch kept where it passes unchanged (x 1,
 * / 1, + 0, - 0); 0 when it does not. */
static int arith(char op, int64_t a, int64_t b, int64_t *out)
{
	if (a == ONNX_BATCH || b == ONNX_BATCH) {
		int64_t o = a == ONNX_BATCH ? b : a;
		int keep = a == ONNX_BATCH && ((op == 'M' || op == 'D') ? o == 1 : o == 0);
		keep |= b == ONNX_BATCH && ((op == 'M' && o == 1) || (op == 'A' && o == 0));
		*out = ONNX_BATCH;
		return keep;
	}
	if (op == 'D' && b == 0)
		return 0;
	if (op == 'A')
		return !__builtin_add_overflow(a, b, out);
	if (op == 'S')
		return !__builtin_sub_overflow(a, b, out);
	if (op == 'M')
		return !__builtin_mul_overflow(a, b, out);
	if (a == INT64_MIN && b == -1)
		return 0;
	int64_t q = a / b; /* ONNX's integer Div truncates, as C's */
	*out = q;
	return 1;
}

static int eval_node(const onnx_read *r, const node_t *n, int64_t v[8], int *rows, int depth);

/* name's value, each node's kept (r->memo): shape arithmetic that branches
 * and joins is evaluated once a node. */
static int eval(const onnx_read *r, const char *name, int64_t v[8], int *rows, int depth)
{
	*rows = 1;
	if (depth > DEPTH_MAX)
		return -1;
	const tensor_t *t = onnx_init(r, name);
	if (t) {
		int len = onnx_tensor_i64(t, v);
		if (len > 0 && t->n_dims == 2 && t->dims[0] > 1 && t->dims[0] * t->dims[1] == len)
			*rows = (int)t->dims[0];
		else if (t->n_dims > 1 && len > 1 && t->dims[t->n_dims - 1] != len)
			return -1; /* a matrix of more dimensions */
		return len;
	}
	int32_t k = onnx_producer_index(r, name);
	if (k < 0 || r->g->node[k]->n_output != 1)
		return -1;
	onnx_memo *m = r->memo;
	if (m->shape[k]) {
		if (m->shape[k] < 0)
			return -1;
		const struct onnx_ints *e = &m->vals[m->shape[k] - 1];
		memcpy(v, e->v, sizeof(e->v));
		*rows = e->rows;
		return e->n;
	}
	int n = eval_node(r, r->g->node[k], v, rows, depth);
	if (n >= 0 && (*rows < 1 || n % *rows))
		return -1;
	if (n >= 0 && m->nvals == m->cap) { /* grown in steps: linear in the nodes */
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct onnx_ints *q = realloc(m->vals, cap * sizeof(*q));
		if (!q)
			return n; /* not kept: evaluated again when asked */
		m->vals = q, m->cap = cap;
	}
	if (n >= 0 && m->nvals < (size_t)INT32_MAX - 1) {
		m->vals[m->nvals].n = n, m->vals[m->nvals].rows = *rows;
		memcpy(m->vals[m->nvals].v, v, sizeof(m->vals[0].v));
		m->shape[k] = (int32_t)++m->nvals;
	} else if (n < 0 && depth <= DEPTH_MAX / 2) {
		m->shape[k] = -1; /* a failure near the depth limit may be the limit's: not kept */
	}
	return n;
}

static int eval_node(const onnx_read *r, const node_t *n, int64_t v[8], int *rows, int depth)
{
	int64_t a[8], b[8];
	const char *op = n->op_type ? n->op_type : "";
	*rows = 1;
	if (!strcmp(op, "Shape")) {
		const onnx_val *x = n->n_input ? onnx_value(r, n->input[0]) : NULL;
		if (!x || onnx_attr(n, "start") || onnx_attr(n, "end") || (!x->flat && x->W == 1 && x->H > 1))
			return -1; /* a map of L x 1 may be (N, C, L) in ONNX: not taken */
		v[0] = ONNX_BATCH;
		if (x->flat) {
			v[1] = (int64_t)x->F;
			return 2;
		}
		v[1] = x->C, v[2] = x->H, v[3] = x->W;
		return 4;
	}
	if (!strcmp(op, "Gather")) {
		int na = in_ints(r, n, 0, a, depth), ni = in_ints(r, n, 1, b, depth);
		if (na < 1 || ni < 1 || onnx_attr_i(n, "axis", 0) != 0)
			return -1;
		for (int i = 0; i < ni; i++) {
			int64_t k = b[i] < 0 ? b[i] + na : b[i];
			if (k < 0 || k >= na)
				return -1;
			v[i] = a[k];
		}
		return ni;
	}
	if (!strcmp(op, "Cast") || !strcmp(op, "Identity")) {
		int na = in_mat(r, n, 0, a, rows, depth);
		if (na < 0 || (!strcmp(op, "Cast") && onnx_attr_i(n, "to", 7) != 7))
			return -1;
		memcpy(v, a, (size_t)na * sizeof(int64_t));
		return na;
	}
	if (!strcmp(op, "ConstantOfShape")) { /* of a vector's length, an integer value */
		const Onnx__AttributeProto *at = onnx_attr(n, "value");
		int64_t c[8] = {0};
		int nc = at && at->t ? onnx_tensor_i64(at->t, c) : at ? -1 : 1;
		int ns = in_ints(r, n, 0, a, depth);
		if (ns != 1 || nc != 1 || a[0] < 0 || a[0] > 8)
			return -1;
		for (int i = 0; i < a[0]; i++)
			v[i] = c[0];
		return (int)a[0];
	}
	if (!strcmp(op, "Reshape")) { /* of integers: to a vector, or to rows of a given width */
		int ra, na = in_mat(r, n, 0, a, &ra, depth), ns = in_ints(r, n, 1, b, depth);
		if (na < 1 || ns < 1 || ns > 2)
			return -1;
		int64_t w = ns == 1 ? na : b[1], h = ns == 1 ? 1 : b[0];
		if (w <= 0 || na % w || (h != -1 && h * w != na) || (ns == 1 && b[0] != -1 && b[0] != na))
			return -1;
		memcpy(v, a, (size_t)na * sizeof(int64_t));
		*rows = (int)(na / w);
		return na;
	}
	if (!strcmp(op, "Transpose")) { /* of a matrix, perm (1, 0) */
		int ra, na = in_mat(r, n, 0, a, &ra, depth);
		const Onnx__AttributeProto *pm = onnx_attr(n, "perm");
		if (na < 1 || ra < 2 || (pm && (pm->n_ints != 2 || pm->ints[0] != 1 || pm->ints[1] != 0)))
			return -1;
		int cols = na / ra;
		for (int i = 0; i < ra; i++)
			for (int j = 0; j < cols; j++)
				v[j * ra + i] = a[i * cols + j];
		*rows = cols;
		return na;
	}
	if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) {
		int na = in_ints(r, n, 0, a, depth);
		if (na < 0 || (!strcmp(op, "Cast") && onnx_attr_i(n, "to", 7) != 7))
			return -1; /* a scalar and a vector of one are alike here */
		memcpy(v, a, (size_t)na * sizeof(int64_t));
		return na;
	}
	if (!strcmp(op, "Concat")) {
		int k = 0;
		for (size_t i = 0; i < n->n_input; i++) {
			int na = in_ints(r, n, i, a, depth);
			if (na < 0 || k + na > 8)
				return -1;
			memcpy(v + k, a, (size_t)na * sizeof(int64_t));
			k += na;
		}
		return k;
	}
	if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) {
		int na = in_ints(r, n, 0, a, depth), nb = na < 0 ? -1 : in_ints(r, n, 1, b, depth);
		if (nb < 0 || (na != nb && na != 1 && nb != 1))
			return -1;
		int k = na > nb ? na : nb;
		for (int i = 0; i < k; i++)
			if (!arith(op[0], a[na == 1 ? 0 : i], b[nb == 1 ? 0 : i], &v[i]))
				return -1;
		return k;
	}
	if (!strcmp(op, "Slice")) { /* of a vector's items or a matrix's rows: starts, ends [, axes 0 [, steps 1 or -1]] */
		int64_t s[8], e[8], ax[8], st[8] = {1};
		int ra, na = in_mat(r, n, 0, a, &ra, depth), ns = in_ints(r, n, 1, s, depth), ne = in_ints(r, n, 2, e, depth);
		int nx = n->n_input > 3 ? in_ints(r, n, 3, ax, depth) : 0, nt = n->n_input > 4 ? in_ints(r, n, 4, st, depth) : 0;
		if (na < 0 || ns != 1 || ne != 1 || (n->n_input > 3 && (nx != 1 || ax[0] != 0)) ||
		    (n->n_input > 4 && (nt != 1 || (st[0] != 1 && st[0] != -1))))
			return -1;
		int64_t len = ra, cols = na / ra, lo, hi;
		if (st[0] == 1) { /* [lo, hi), clamped to [0, len] */
			lo = s[0] < 0 ? s[0] + len : s[0], hi = e[0] < 0 ? e[0] + len : e[0];
			lo = lo < 0 ? 0 : lo > len ? len : lo, hi = hi < lo ? lo : hi > len ? len : hi;
			memcpy(v, a + lo * cols, (size_t)((hi - lo) * cols) * sizeof(int64_t));
		} else { /* from s down to e exclusive, clamped to [-1, len - 1]: ONNX's rule for a step of -1 */
			int64_t from = s[0] < 0 ? s[0] + len : s[0], to = e[0] < 0 ? e[0] + len : e[0];
			from = from < 0 ? -1 : from > len - 1 ? len - 1 : from;
			to = to < -1 ? -1 : to > len - 1 ? len - 1 : to;
			lo = 0, hi = from > to ? from - to : 0;
			for (int64_t i = 0; i < hi; i++)
				memcpy(v + i * cols, a + (from - i) * cols, (size_t)cols * sizeof(int64_t));
		}
		*rows = ra > 1 ? (int)(hi - lo) : 1;
		if (ra > 1 && hi == lo)
			return -1; /* an empty matrix */
		return (int)((hi - lo) * cols);
	}
	return -1;
}

int onnx_shape_ints(const onnx_read *r, const char *name, int64_t v[8])
{
	int rows = 1, len = name && name[0] ? eval(r, name, v, &rows, 0) : -1;
	return rows == 1 ? len : -1;
}

int onnx_shape_node(const onnx_read *r, const node_t *n)
{
	static const char *const ops[] = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Concat", "Add", "Sub",
					  "Mul", "Div", "Slice", "ConstantOfShape", "Reshape", "Transpose", "Identity"};
	int64_t v[8];
	int rows;
	for (size_t i = 0; n->op_type && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(n->op_type, ops[i]))
			return n->n_output == 1 && n->output[0] && n->output[0][0] && eval(r, n->output[0], v, &rows, 0) >= 0;
	return 0;
}
