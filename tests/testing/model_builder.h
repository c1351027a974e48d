// Builds small ONNX models in code for the tests, and finds the committed fixtures.
#ifndef ONNX_REINIT_TESTS_TESTING_MODEL_BUILDER_H_
#define ONNX_REINIT_TESTS_TESTING_MODEL_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/roles.h"
#include "onnx_reinit/tensor_data.h"

namespace onnx_reinit::testing {

// The floating-point types onnx-reinit writes, for tests that run on each:
//   INSTANTIATE_TEST_SUITE_P(AllFloatTypes, Suite, ::testing::ValuesIn(testing::kFloatTypes),
//                            testing::FloatTypeParamName);
inline constexpr int32_t kFloatTypes[] = {onnx::TensorProto::FLOAT, onnx::TensorProto::DOUBLE,
                                          onnx::TensorProto::FLOAT16, onnx::TensorProto::BFLOAT16};
// The test name of a kFloatTypes parameter: "float32", "float64", "float16", "bfloat16".
std::string FloatTypeParamName(const ::testing::TestParamInfo<int32_t>& info);

// An empty model: IR 7, opset 13, producer "onnx-reinit tests".
onnx::ModelProto NewModel();

// Fills `tensor` with `dims`, `data_type` and values 0.001 * (k + 1) in the given storage field.
void SetTensor(onnx::TensorProto& tensor, const std::vector<int64_t>& dims,
               int32_t data_type = onnx::TensorProto::FLOAT, Storage storage = Storage::kRawData);

onnx::TensorProto* AddInitializer(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims,
                                  int32_t data_type = onnx::TensorProto::FLOAT, Storage storage = Storage::kRawData);

onnx::NodeProto* AddNode(onnx::GraphProto& graph, const std::string& op_type, const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs, const std::string& name = "");

void SetIntAttribute(onnx::NodeProto& node, const std::string& name, int64_t value);

// A Constant node whose `value` attribute holds a tensor built like SetTensor's.
onnx::NodeProto* AddConstantNode(onnx::GraphProto& graph, const std::string& output, const std::vector<int64_t>& dims,
                                 int32_t data_type = onnx::TensorProto::FLOAT);

// Adds a float graph input of the given shape.
void AddInput(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims,
              int32_t data_type = onnx::TensorProto::FLOAT);

std::string TestdataPath(const std::string& relative);
// Loads a committed fixture; fails the current test (and returns an empty model) when it cannot.
onnx::ModelProto LoadTestdata(const std::string& relative);

// Reads the values of `tensor` as doubles, whatever their storage.
std::vector<double> ReadValues(onnx::TensorProto& tensor);

// The analysis entry of tensor `name`; fails the current test when there is none.
const TensorUse& FindUse(const GraphAnalysis& analysis, const std::string& name);
// A use found in a temporary analysis is returned by value: a reference into it would dangle.
TensorUse FindUse(GraphAnalysis&& analysis, const std::string& name);

// Finds an initializer by name; nullptr when absent.
onnx::TensorProto* FindInitializer(onnx::ModelProto& model, const std::string& name);

}  // namespace onnx_reinit::testing

#endif  // ONNX_REINIT_TESTS_TESTING_MODEL_BUILDER_H_
