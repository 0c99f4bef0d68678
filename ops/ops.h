#pragma once
// Everything a user of the engine needs: tensors, factories, autograd and every op.
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/factories.h"
#include "engine/tensor.h"
#include "ops/arith.h"
#include "ops/compare.h"
#include "ops/index_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/unary.h"
