/* figures.c: a head's figures (dcc_eval_result) as JSON and as the words
 * eval, emu and run print: top-1 (and top-5) accuracy for a classifier,
 * accuracy at 0.5 with precision and recall for sigmoid outputs, mean
 * squared and absolute error for regression. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "../lib/dcc_nn.h"
#include "common.h"

static void put_num(json_t *o, const char *k, double v)
{
	json_object_set_new(o, k, isnan(v) ? json_null() : json_real(v));
}

void cmd_figures_json(json_t *o, const dcc_eval_result *r)
{
	json_object_set_new(o, "head", json_string(dcc_op_name(r->head)));
	if (r->head == DCC_OP_MSE) {
		put_num(o, "mse", r->mse);
		put_num(o, "mae", r->mae);
		return;
	}
	json_object_set_new(o, "correct", json_integer((json_int_t)r->correct));
	put_num(o, "accuracy", r->accuracy);
	if (r->head == DCC_OP_SOFTMAX_CE && !isnan(r->top5))
		put_num(o, "top5", r->top5);
	if (r->head == DCC_OP_BCE) {
		put_num(o, "precision", r->precision);
		put_num(o, "recall", r->recall);
	}
}

const char *cmd_figures_text(json_t *o, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	json_t *v;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
	if (json_is_number(v = json_object_get(o, "accuracy")))
		ADD(", accuracy %.2f%%", 100 * json_number_value(v));
	if (json_is_number(v) && json_is_integer(json_object_get(o, "correct")))
		ADD(" (%lld correct)", (long long)json_integer_value(json_object_get(o, "correct")));
	if (json_is_number(v = json_object_get(o, "top5")))
		ADD(", top-5 %.2f%%", 100 * json_number_value(v));
	if ((v = json_object_get(o, "precision")))
		json_is_number(v) ? ADD(", precision %.4f", json_number_value(v)) : ADD(", precision -");
	if ((v = json_object_get(o, "recall")))
		json_is_number(v) ? ADD(", recall %.4f", json_number_value(v)) : ADD(", recall -");
	if (json_is_number(v = json_object_get(o, "mse")))
		ADD(", mse %.6g", json_number_value(v));
	if (json_is_number(v = json_object_get(o, "mae")))
		ADD(", mae %.6g", json_number_value(v));
#undef ADD
	return buf;
}
