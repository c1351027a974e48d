#include "onnx_reinit/graph/view_trace.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_builder.h"

namespace onnx_reinit {
namespace {

using testing::AddInitializer;
using testing::AddNode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SetIntAttribute;
using Shape = std::vector<int64_t>;

void AddInts(onnx::GraphProto& graph, const std::string& name, Shape values, Shape dims = {-1}) {
  onnx::TensorProto* tensor = graph.add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::INT64);
  if (dims == Shape{-1}) dims = {static_cast<int64_t>(values.size())};
  for (int64_t d : dims) tensor->add_dims(d);
  for (int64_t v : values) tensor->add_int64_data(v);
}

void SetInts(onnx::NodeProto& node, const std::string& name, Shape values) {
  onnx::AttributeProto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) attribute->add_ints(v);
}

// The source element each view element is, row-major over the view.
std::vector<int64_t> Elements(const TracedView& view) {
  int64_t count = 1;
  for (int64_t d : view.map.shape) count *= d;
  std::vector<int64_t> out(count, -1);
  for (const Piece& piece : view.map.pieces) {
    for (int64_t i = 0; i < piece.count(); ++i) {
      int64_t rest = i, flat = 0, element = piece.origin, scale = 1;
      std::vector<int64_t> index(piece.extent.size());
      for (size_t d = piece.extent.size(); d-- > 0;) {
        index[d] = rest % piece.extent[d];
        rest /= piece.extent[d];
      }
      for (size_t d = 0; d < index.size(); ++d) element += index[d] * piece.stride[d];
      for (size_t d = view.map.shape.size(); d-- > 0;) {
        flat += (piece.start[d] + index[d]) * scale;
        scale *= view.map.shape[d];
      }
      out[flat] = element;
    }
  }
  return out;
}

class ViewTraceTest : public ::testing::Test {
 protected:
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }
  const TracedView* Trace(const std::string& name) {
    index_ = std::make_unique<GraphIndex>(model_);
    tracer_ = std::make_unique<ViewTracer>(*index_);
    return tracer_->Trace(name);
  }

  onnx::ModelProto model_ = testing::NewModel();
  std::unique_ptr<GraphIndex> index_;
  std::unique_ptr<ViewTracer> tracer_;
};

TEST_F(ViewTraceTest, SliceWithInputsFollowsNegativeStepsAndClampedEnds) {
  AddInitializer(graph(), "w", {4, 3});
  AddInts(graph(), "starts", {-1, 100});
  AddInts(graph(), "ends", {-100, 0});
  AddInts(graph(), "axes", {0, -1});
  AddInts(graph(), "steps", {-2, -1});
  AddNode(graph(), "Slice", {"w", "starts", "ends", "axes", "steps"}, {"v"});
  const TracedView* view = Trace("v");
  ASSERT_NE(view, nullptr);
  ASSERT_TRUE(view->exact()) << view->why;
  // rows 3, 1; columns 2, 1 (end 0 is exclusive)
  EXPECT_THAT(view->map.shape, ElementsAre(2, 2));
  EXPECT_THAT(Elements(*view), ElementsAre(11, 10, 5, 4));
  EXPECT_EQ(view->Path(0), "Slice");
}

TEST_F(ViewTraceTest, SliceOfOpset9TakesItsAttributes) {
  AddInitializer(graph(), "w", {6});
  onnx::NodeProto* slice = AddNode(graph(), "Slice", {"w"}, {"v"});
  SetInts(*slice, "starts", {1});
  SetInts(*slice, "ends", {-2});
  const TracedView* view = Trace("v");
  ASSERT_TRUE(view != nullptr && view->exact());
  EXPECT_THAT(Elements(*view), ElementsAre(1, 2, 3));
}

TEST_F(ViewTraceTest, SplitTakesSizesFromTheInputTheAttributeOrNumOutputs) {
  AddInitializer(graph(), "w", {7, 2});
  AddInts(graph(), "sizes", {2, 5});
  AddNode(graph(), "Split", {"w", "sizes"}, {"a0", "a1"});
  onnx::NodeProto* old = AddNode(graph(), "Split", {"w"}, {"b0", "b1", "b2"});
  SetInts(*old, "split", {1, 1, 5});
  onnx::NodeProto* chunks = AddNode(graph(), "Split", {"w"}, {"c0", "c1", "c2"});
  SetIntAttribute(*chunks, "num_outputs", 3);  // opset 18: chunks of ceil(7 / 3) = 3, 3, 1
  onnx::NodeProto* columns = AddNode(graph(), "Split", {"w"}, {"d0", "d1"});
  SetIntAttribute(*columns, "axis", -1);
  EXPECT_THAT(Trace("a1")->map.shape, ElementsAre(5, 2));
  EXPECT_THAT(Elements(*Trace("a1")), ElementsAre(4, 5, 6, 7, 8, 9, 10, 11, 12, 13));
  EXPECT_THAT(Elements(*Trace("b1")), ElementsAre(2, 3));
  EXPECT_THAT(Trace("c1")->map.shape, ElementsAre(3, 2));
  EXPECT_THAT(Elements(*Trace("c2")), ElementsAre(12, 13));
  EXPECT_THAT(Elements(*Trace("d1")), ElementsAre(1, 3, 5, 7, 9, 11, 13));
  onnx::NodeProto* uneven = AddNode(graph(), "Split", {"w"}, {"e0", "e1"});
  (void)uneven;
  EXPECT_THAT(Trace("e0")->why, HasSubstr("equal parts"));
}

TEST_F(ViewTraceTest, ConcatOfSeveralConstantsNamesEachWithItsPath) {
  AddInitializer(graph(), "a", {2, 3});
  AddInitializer(graph(), "b", {3});
  AddInts(graph(), "zero", {0});
  AddNode(graph(), "Unsqueeze", {"b", "zero"}, {"b2"});
  onnx::NodeProto* concat = AddNode(graph(), "Concat", {"a", "b2"}, {"v"});
  SetIntAttribute(*concat, "axis", 0);
  const TracedView* view = Trace("v");
  ASSERT_TRUE(view != nullptr && view->exact());
  ASSERT_EQ(view->map.sources.size(), 2u);
  EXPECT_EQ(view->Path(0), "Concat");
  EXPECT_EQ(view->Path(1), "Unsqueeze -> Concat");
  EXPECT_THAT(view->map.shape, ElementsAre(3, 3));
}

TEST_F(ViewTraceTest, ConcatWithAnActivationIsNotAView) {
  AddInitializer(graph(), "a", {1, 3});
  onnx::NodeProto* concat = AddNode(graph(), "Concat", {"a", "x"}, {"v"});
  SetIntAttribute(*concat, "axis", 0);
  EXPECT_EQ(Trace("v"), nullptr);
}

TEST_F(ViewTraceTest, GatherWithConstantIndicesPicksAlongItsAxis) {
  AddInitializer(graph(), "w", {2, 4});
  AddInts(graph(), "picks", {3, -4}, {2});
  onnx::NodeProto* gather = AddNode(graph(), "Gather", {"w", "picks"}, {"v"});
  SetIntAttribute(*gather, "axis", 1);
  const TracedView* view = Trace("v");
  ASSERT_TRUE(view != nullptr && view->exact());
  EXPECT_THAT(Elements(*view), ElementsAre(3, 0, 7, 4));
  AddNode(graph(), "Gather", {"w", "ids"}, {"looked_up"});  // computed indices: a table lookup
  EXPECT_EQ(Trace("looked_up"), nullptr);
}

TEST_F(ViewTraceTest, EvaluatesTheShapeArithmeticOfTorchChunk) {
  // b.chunk(3) without constant folding: ends = (dim + 2) / 3 * k, from Shape(b).
  AddInitializer(graph(), "b", {12});
  AddNode(graph(), "Shape", {"b"}, {"shape"});
  AddInts(graph(), "zero", {0}, {1});
  AddInts(graph(), "two", {2}, {});
  AddInts(graph(), "three", {3}, {});
  AddInts(graph(), "k", {2}, {1});
  AddNode(graph(), "Gather", {"shape", "zero"}, {"dim"});
  AddNode(graph(), "Add", {"dim", "two"}, {"dim2"});
  AddNode(graph(), "Div", {"dim2", "three"}, {"chunk"});
  AddNode(graph(), "Mul", {"chunk", "k"}, {"end"});
  AddInts(graph(), "start", {4}, {1});
  AddNode(graph(), "Slice", {"b", "start", "end", "zero"}, {"v"});
  const TracedView* view = Trace("v");
  ASSERT_TRUE(view != nullptr && view->exact()) << (view ? view->why : "");
  EXPECT_THAT(Elements(*view), ElementsAre(4, 5, 6, 7));
}

TEST_F(ViewTraceTest, ComputedParametersNameTheSourceWithTheReason) {
  AddInitializer(graph(), "w", {6});
  AddInts(graph(), "start", {0});
  AddNode(graph(), "Slice", {"w", "start", "x_end"}, {"v"});
  const TracedView* view = Trace("v");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->map.sources[0].name, "w");
  EXPECT_THAT(view->why, HasSubstr("Slice's ends are computed, not constant"));
}

TEST_F(ViewTraceTest, SubgraphsReadOuterConstantsThroughSlices) {
  AddInitializer(graph(), "outer_w", {4, 2});
  onnx::NodeProto* if_node = AddNode(graph(), "If", {"cond"}, {"y"});
  onnx::AttributeProto* branch = if_node->add_attribute();
  branch->set_name("then_branch");
  branch->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto& body = *branch->mutable_g();
  AddInts(body, "s", {2});
  AddInts(body, "e", {4});
  AddNode(body, "Slice", {"outer_w", "s", "e"}, {"inner_v"});
  const TracedView* view = Trace("inner_v");
  ASSERT_TRUE(view != nullptr && view->exact());
  EXPECT_THAT(Elements(*view), ElementsAre(4, 5, 6, 7));
}

TEST_F(ViewTraceTest, PassesOnOnlyTheDataOfFollowedOps) {
  AddInitializer(graph(), "w", {4});
  AddInts(graph(), "s", {0});
  AddInts(graph(), "e", {2});
  onnx::NodeProto* slice = AddNode(graph(), "Slice", {"w", "s", "e"}, {"v"});
  onnx::NodeProto* mul = AddNode(graph(), "Mul", {"v", "x"}, {"y"});
  index_ = std::make_unique<GraphIndex>(model_);
  ViewTracer tracer(*index_);
  EXPECT_TRUE(tracer.PassesOn(*slice, 0));
  EXPECT_FALSE(tracer.PassesOn(*slice, 1));
  EXPECT_FALSE(tracer.PassesOn(*mul, 0));
}

TEST_F(ViewTraceTest, CyclesAreNotConstant) {
  AddNode(graph(), "Identity", {"b"}, {"a"});
  AddNode(graph(), "Identity", {"a"}, {"b"});
  EXPECT_EQ(Trace("a"), nullptr);
}

}  // namespace
}  // namespace onnx_reinit
