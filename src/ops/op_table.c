/* The table of every differentiable op as data (see op_table.h): taking each descriptor's
 * address here also makes the link fail for a row whose descriptor nobody defined. */
#include "ops/op_table.h"

#define ROW1(sym) &clgrad__op_##sym,
#define ROW3(sym, forward, checked) &clgrad__op_##sym,

const clgrad__op *const clgrad__op_table[] = {
    CLGRAD__OPS_UNARY(ROW1) CLGRAD__OPS_SCALAR(ROW1) CLGRAD__OPS(ROW3)
};

const size_t clgrad__op_table_count = sizeof clgrad__op_table / sizeof clgrad__op_table[0];
