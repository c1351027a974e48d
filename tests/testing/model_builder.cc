#include "tests/testing/model_builder.h"

#include <cstring>

#include "gtest/gtest.h"
#include "onnx_reinit/model_io.h"

namespace onnx_reinit::testing {

onnx::ModelProto NewModel() {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.set_producer_name("onnx-reinit tests");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  model.mutable_graph()->set_name("test");
  return model;
}

void SetTensor(onnx::TensorProto& tensor, const std::vector<int64_t>& dims, int32_t data_type, Storage storage) {
  tensor.set_data_type(data_type);
  tensor.clear_dims();
  for (int64_t dim : dims) tensor.add_dims(dim);
  int64_t count = 1;
  for (int64_t dim : dims) count *= dim;
  const std::optional<FloatType> type = FloatTypeOf(data_type);
  if (!type) {  // integer tensors: int64 values 0, 1, 2, ... in raw_data
    std::string raw(static_cast<size_t>(count) * 8, '\0');
    for (int64_t k = 0; k < count; ++k) std::memcpy(raw.data() + 8 * k, &k, 8);
    tensor.set_raw_data(raw);
    return;
  }
  if (storage == Storage::kRawData) {
    tensor.set_raw_data(std::string(static_cast<size_t>(count) * ByteWidth(*type), '\0'));
  } else {
    for (int64_t k = 0; k < count; ++k) {
      if (storage == Storage::kFloatData) tensor.add_float_data(0);
      if (storage == Storage::kDoubleData) tensor.add_double_data(0);
      if (storage == Storage::kInt32Data) tensor.add_int32_data(0);
    }
  }
  auto values = TensorValues::Bind(tensor, tensor.name());
  ASSERT_TRUE(values.ok()) << values.status();
  for (int64_t k = 0; k < count; ++k) {
    const double value = 0.001 * static_cast<double>(k + 1);
    values->Write(k, &value, 1);
  }
}

onnx::TensorProto* AddInitializer(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims,
                                  int32_t data_type, Storage storage) {
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(name);
  SetTensor(*tensor, dims, data_type, storage);
  return tensor;
}

onnx::NodeProto* AddNode(onnx::GraphProto& graph, const std::string& op_type, const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs, const std::string& name) {
  onnx::NodeProto* node = graph.add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const std::string& input : inputs) node->add_input(input);
  for (const std::string& output : outputs) node->add_output(output);
  return node;
}

void SetIntAttribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

onnx::NodeProto* AddConstantNode(onnx::GraphProto& graph, const std::string& output, const std::vector<int64_t>& dims,
                                 int32_t data_type) {
  onnx::NodeProto* node = AddNode(graph, "Constant", {}, {output}, output + "_node");
  onnx::AttributeProto* attribute = node->add_attribute();
  attribute->set_name("value");
  attribute->set_type(onnx::AttributeProto::TENSOR);
  SetTensor(*attribute->mutable_t(), dims, data_type);
  return node;
}

void AddInput(onnx::GraphProto& graph, const std::string& name, const std::vector<int64_t>& dims, int32_t data_type) {
  onnx::ValueInfoProto* input = graph.add_input();
  input->set_name(name);
  onnx::TypeProto_Tensor* tensor_type = input->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(data_type);
  for (int64_t dim : dims) tensor_type->mutable_shape()->add_dim()->set_dim_value(dim);
}

std::string TestdataPath(const std::string& relative) { return std::string(TESTDATA_DIR) + "/" + relative; }

onnx::ModelProto LoadTestdata(const std::string& relative) {
  auto model = LoadModel(TestdataPath(relative));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : onnx::ModelProto();
}

std::vector<double> ReadValues(onnx::TensorProto& tensor) {
  auto values = TensorValues::Bind(tensor, tensor.name());
  EXPECT_TRUE(values.ok()) << values.status();
  std::vector<double> out;
  if (!values.ok()) return out;
  for (int64_t k = 0; k < values->size(); ++k) out.push_back(values->Read(k));
  return out;
}

const TensorUse& FindUse(const GraphAnalysis& analysis, const std::string& name) {
  for (const TensorUse& use : analysis.tensors) {
    if (use.name == name) return use;
  }
  ADD_FAILURE() << name << " not in the analysis";
  static const TensorUse kMissing;
  return kMissing;
}

TensorUse FindUse(GraphAnalysis&& analysis, const std::string& name) {
  const GraphAnalysis& found_in = analysis;
  return FindUse(found_in, name);
}

onnx::TensorProto* FindInitializer(onnx::ModelProto& model, const std::string& name) {
  for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
    if (tensor.name() == name) return &tensor;
  }
  return nullptr;
}

std::string FloatTypeParamName(const ::testing::TestParamInfo<int32_t>& info) {
  return std::string(FloatTypeName(*FloatTypeOf(info.param)));
}

}  // namespace onnx_reinit::testing
