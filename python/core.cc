// onnx_reinit._core: the C++ side of the Python module; python/onnx_reinit/__init__.py is the API.
// Models cross as serialized bytes (or file paths), reports as JSON text, options as a dict of
// proto::Recipe fields read by the library's one options parser (options.h). The library's work
// runs with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "onnx/onnx_pb.h"
#include "onnx_reinit/ci_formats.h"
#include "onnx_reinit/diff.h"
#include "onnx_reinit/errors.h"
#include "onnx_reinit/json_output.h"
#include "onnx_reinit/model_io.h"
#include "onnx_reinit/options.h"
#include "onnx_reinit/reinit.h"
#include "onnx_reinit/report_file.h"
#include "onnx_reinit/rewrite.h"
#include "onnx_reinit/stats.h"
#include "onnx_reinit/status_macros.h"
#include "onnx_reinit/strip.h"
#include "onnx_reinit/verify.h"
#include "onnx_reinit/version.h"

namespace py = pybind11;

namespace onnx_reinit::python {
namespace {

// onnx_reinit.ModelError, a ValueError: the model cannot be re-initialized or read as it is.
PyObject* model_error = nullptr;

// The Python exception for the error's kind (errors.h), never for its wording: usage errors are
// ValueError, files OSError (the subclass the errno gave: FileNotFoundError, PermissionError),
// anything else (the model, --strict) ModelError.
PyObject* ExceptionType(const absl::Status& status) {
  switch (ErrorKindOf(status)) {
    case ErrorKind::kUsage: return PyExc_ValueError;
    case ErrorKind::kFile:
      if (status.code() == absl::StatusCode::kNotFound) return PyExc_FileNotFoundError;
      if (status.code() == absl::StatusCode::kPermissionDenied) return PyExc_PermissionError;
      return PyExc_OSError;
    case ErrorKind::kModel:
    case ErrorKind::kStrict:
    case ErrorKind::kNotInPlace:
    case ErrorKind::kUnsupported: return model_error;
  }
  return model_error;
}

[[noreturn]] void Raise(const absl::Status& status) {
  PyErr_SetString(ExceptionType(status), std::string(status.message()).c_str());
  throw py::error_already_set();
}

template <typename T>
T ValueOrRaise(absl::StatusOr<T> value) {
  if (!value.ok()) Raise(value.status());
  return *std::move(value);
}

std::string TypeName(py::handle value) { return py::str(py::type::handle_of(value).attr("__name__")); }

[[noreturn]] void RaiseType(const std::string& key, const char* expected, py::handle value) {
  throw py::type_error(absl::StrCat(key, " must be ", expected, ", not ", TypeName(value)));
}

double Number(const std::string& key, py::handle value) {
  if (py::isinstance<py::bool_>(value) || !(py::isinstance<py::float_>(value) || py::isinstance<py::int_>(value))) {
    RaiseType(key, "a number", value);
  }
  return value.cast<double>();
}

int64_t Integer(const std::string& key, py::handle value) {
  if (py::isinstance<py::bool_>(value) || !py::isinstance<py::int_>(value)) RaiseType(key, "an int", value);
  try {
    return value.cast<int64_t>();
  } catch (const py::cast_error&) {
    throw py::value_error(absl::StrCat(key, " is out of range"));
  }
}

std::string Text(const std::string& key, py::handle value) {
  if (!py::isinstance<py::str>(value)) RaiseType(key, "a str", value);
  return value.cast<std::string>();
}

// Sets the Recipe field named `key` (its flag without the dashes, underscores for dashes).
void SetField(proto::Recipe& recipe, const std::string& key, py::handle value) {
  const google::protobuf::FieldDescriptor* field = recipe.GetDescriptor()->FindFieldByName(key);
  if (field == nullptr) {
    std::vector<std::string> names;
    for (int i = 0; i < recipe.GetDescriptor()->field_count(); ++i) {
      names.push_back(recipe.GetDescriptor()->field(i)->name());
    }
    throw py::type_error(absl::StrCat("unknown option '", key, "'; options: ", absl::StrJoin(names, ", ")));
  }
  const google::protobuf::Reflection& reflection = *recipe.GetReflection();
  using Field = google::protobuf::FieldDescriptor;
  if (field->is_repeated()) {  // rules: one string or an iterable of strings
    if (py::isinstance<py::str>(value)) {
      reflection.AddString(&recipe, field, value.cast<std::string>());
      return;
    }
    if (!py::isinstance<py::iterable>(value)) RaiseType(key, "a str or an iterable of str", value);
    for (py::handle item : value) reflection.AddString(&recipe, field, Text(key, item));
    return;
  }
  switch (field->cpp_type()) {
    case Field::CPPTYPE_STRING: reflection.SetString(&recipe, field, Text(key, value)); break;
    case Field::CPPTYPE_DOUBLE: reflection.SetDouble(&recipe, field, Number(key, value)); break;
    case Field::CPPTYPE_BOOL:
      if (!py::isinstance<py::bool_>(value)) RaiseType(key, "a bool", value);
      reflection.SetBool(&recipe, field, value.cast<bool>());
      break;
    case Field::CPPTYPE_UINT64: {
      const int64_t number = Integer(key, value);
      if (number < 0) throw py::value_error(absl::StrCat(key, " must be >= 0"));
      reflection.SetUInt64(&recipe, field, static_cast<uint64_t>(number));
      break;
    }
    case Field::CPPTYPE_INT64: reflection.SetInt64(&recipe, field, Integer(key, value)); break;
    case Field::CPPTYPE_INT32: {
      const int64_t number = Integer(key, value);
      if (number < INT_MIN || number > INT_MAX) throw py::value_error(absl::StrCat(key, " is out of range"));
      reflection.SetInt32(&recipe, field, static_cast<int32_t>(number));
      break;
    }
    default: throw py::type_error(absl::StrCat("option '", key, "' cannot be set from Python"));
  }
}

// Runs `work` (returning absl::StatusOr<T>) without the GIL.
template <typename Work>
auto WithoutGil(Work work) {
  py::gil_scoped_release release;
  return work();
}

// The options given as keyword arguments (None already left out), and `recipe`: a recipe file's
// path, whose options the given ones override.
struct GivenRecipes {
  proto::Recipe options, file;
  std::string file_name;
};
GivenRecipes ReadGiven(const py::dict& given) {
  GivenRecipes recipes;
  for (const auto& [key_handle, value] : given) {
    const std::string key = py::str(key_handle);
    if (key == "recipe") {
      recipes.file_name = py::str(value);
      recipes.file = ValueOrRaise(ReadRecipe(recipes.file_name));
    } else {
      SetField(recipes.options, key, value);
    }
  }
  return recipes;
}

RewriteOptions ToOptions(const py::dict& given) {
  const GivenRecipes recipes = ReadGiven(given);
  return ValueOrRaise(ToRewriteOptions(recipes.options, recipes.file, recipes.file_name));
}

// The options for ReinitializeFile of `source`: with materialize, a stripped model's own recipe.
RewriteOptions ToFileOptions(const std::string& source, const py::dict& given) {
  const GivenRecipes recipes = ReadGiven(given);
  if (recipes.options.materialize()) {
    const proto::Recipe effective = EffectiveRecipe(recipes.options, recipes.file);
    std::optional<RewriteOptions> stored =
        ValueOrRaise(WithoutGil([&] { return MaterializeOptions(source, effective); }));
    if (stored) return *std::move(stored);
  }
  return ValueOrRaise(ToRewriteOptions(recipes.options, recipes.file, recipes.file_name));
}

proto::Recipe SchemeOnly(const py::dict& given) {
  proto::Recipe options;
  for (const auto& [key, value] : given) SetField(options, py::str(key), value);
  return options;
}

// A model given as serialized bytes or as a file path, opened with the GIL released. Errors about
// bytes call the model "model".
class Model {
 public:
  explicit Model(py::handle source) {
    if (py::isinstance<py::bytes>(source)) {
      bytes_ = py::reinterpret_borrow<py::bytes>(source);  // immutable, and kept alive here
      char* data = nullptr;
      Py_ssize_t size = 0;
      PyBytes_AsStringAndSize(bytes_.ptr(), &data, &size);
      view_ = absl::string_view(data, static_cast<size_t>(size));
    } else {
      path_ = py::str(source);
    }
  }

  bool is_file() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string name() const { return is_file() ? path_ : "model"; }

  // Maps the file or parses the bytes; call without the GIL.
  absl::Status Open() {
    if (is_file()) {
      ONNX_REINIT_ASSIGN_OR_RETURN(MappedModel mapped, MappedModel::Open(path_));
      mapped_.emplace(std::move(mapped));
    } else {
      ONNX_REINIT_ASSIGN_OR_RETURN(parsed_, ParseModel(view_, name()));
    }
    return absl::OkStatus();
  }

  onnx::ModelProto& proto() { return mapped_ ? mapped_->model() : parsed_; }
  const DetachedPayloads& payloads() const { return mapped_ ? mapped_->payloads() : no_payloads_; }

 private:
  py::bytes bytes_;
  absl::string_view view_;
  std::string path_;
  std::optional<MappedModel> mapped_;
  onnx::ModelProto parsed_;
  DetachedPayloads no_payloads_;
};

// A model file through the library's file call (`of_file`: StatsFile, VerifyFile), serialized
// bytes through its model call (`of_model`) with the errors naming "model"; without the GIL.
template <typename Report, typename OfFile, typename OfModel>
absl::StatusOr<Report> Inspect(Model& model, OfFile of_file, OfModel of_model) {
  return WithoutGil([&]() -> absl::StatusOr<Report> {
    if (model.is_file()) return of_file(model.path());
    ONNX_REINIT_RETURN_IF_ERROR(model.Open());
    absl::StatusOr<Report> report = of_model(model.proto());
    if (!report.ok()) return WithContext(report.status(), model.name());
    return report;
  });
}

py::tuple Reinitialize(py::bytes model_bytes, const py::dict& given, bool statistics) {
  RewriteOptions options = ToOptions(given);
  if (options.layout != RewriteOptions::Layout::kKeep || options.materialize) {
    Raise(UsageError("external_data, embed and materialize apply to files: use reinitialize_file"));
  }
  options.reinit.with_statistics = statistics;
  Model model(model_bytes);
  std::string written;
  const absl::StatusOr<proto::ReinitReport> report = WithoutGil([&]() -> absl::StatusOr<proto::ReinitReport> {
    ONNX_REINIT_RETURN_IF_ERROR(model.Open());
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report, onnx_reinit::Reinitialize(model.proto(), options.reinit));
    if (!options.reinit.dry_run && !model.proto().SerializeToString(&written)) {
      return absl::InvalidArgumentError("model: the result does not serialize (over 2 GiB?)");
    }
    return report;
  });
  const std::string json = ToJson(ValueOrRaise(report));
  return py::make_tuple(options.reinit.dry_run ? py::object(py::none()) : py::object(py::bytes(written)), json);
}

std::string ReinitializeFile(const std::string& source, const std::string& destination, const py::dict& given,
                             bool statistics, const std::string& report_path) {
  RewriteOptions options = ToFileOptions(source, given);
  options.reinit.with_statistics = statistics || ReportNeedsStatistics(report_path);
  absl::StatusOr<proto::ReinitReport> report = WithoutGil([&]() -> absl::StatusOr<proto::ReinitReport> {
    ONNX_REINIT_ASSIGN_OR_RETURN(proto::ReinitReport report,
                                 onnx_reinit::ReinitializeFile(source, destination, options));
    report.set_model(source);
    if (report_path.empty()) return report;
    ONNX_REINIT_RETURN_IF_ERROR(WriteReinitReport(report_path, report, source, destination,
                                                  options.reinit.policy.scheme, options.reinit.threads,
                                                  options.output));
    return report;
  });
  return ToJson(ValueOrRaise(std::move(report)));
}

// The report of the direct run, with the names of the stripped tensors and the bytes of their values.
py::tuple StripFile(const std::string& source, const std::string& destination, const py::dict& given) {
  const GivenRecipes recipes = ReadGiven(given);
  ValueOrRaise(ToRewriteOptions(recipes.options, recipes.file, recipes.file_name));
  const proto::Recipe recipe = EffectiveRecipe(recipes.options, recipes.file);
  if (const absl::Status refused = CheckStripRecipe(recipe); !refused.ok()) Raise(refused);
  StripResult result = ValueOrRaise(WithoutGil([&] { return onnx_reinit::StripFile(source, destination, recipe); }));
  return py::make_tuple(ToJson(result.report), result.stripped, result.stripped_bytes);
}

std::string Stats(py::handle source, const py::dict& scheme, int threads, int histogram_bins, bool hash) {
  StatsOptions options;
  options.threads = threads;
  options.histogram_bins = histogram_bins;
  options.hash = hash;
  const proto::Recipe scheme_options = SchemeOnly(scheme);
  if (!scheme_options.scheme().empty()) {
    options.scheme = ValueOrRaise(SchemeFromOptions(scheme_options));
  }
  Model model(source);
  absl::StatusOr<proto::StatsReport> report = Inspect<proto::StatsReport>(
      model, [&](const std::string& path) { return StatsFile(path, options); },
      [&](onnx::ModelProto& proto) { return ComputeModelStats(proto, options); });
  return ToJson(ValueOrRaise(std::move(report)));
}

// With a preset, what it gives each tensor of `model` (VerifyOptions::targets); what it says about
// a structure it could not read, as Python warnings.
void SetPresetTargets(Model& model, const proto::Recipe& given, VerifyOptions& options) {
  PresetTargets targets = ValueOrRaise(WithoutGil([&]() -> absl::StatusOr<PresetTargets> {
    ONNX_REINIT_RETURN_IF_ERROR(model.Open());
    absl::StatusOr<PresetTargets> found = PresetTargetsOf(model.proto(), given, model.payloads());
    if (!found.ok()) return WithContext(found.status(), model.name());
    return found;
  }));
  for (const std::string& warning : targets.warnings) {
    if (PyErr_WarnEx(PyExc_UserWarning, warning.c_str(), 1) != 0) throw py::error_already_set();
  }
  options.targets = std::move(targets.distributions);
  options.targets_source = std::move(targets.source);
}

py::tuple Verify(py::handle source, const py::dict& scheme, std::optional<double> tolerance, int threads,
                 const std::string& junit) {
  const proto::Recipe given = SchemeOnly(scheme);
  VerifyOptions options;
  // Validated as the re-initialization validates them: a scheme or a preset, not both.
  options.scheme = ValueOrRaise(ToRewriteOptions(given)).reinit.policy.scheme;
  options.std_tolerance = tolerance;
  options.threads = threads;
  Model model(source);
  if (!given.preset().empty()) SetPresetTargets(model, given, options);
  absl::StatusOr<proto::VerifyReport> report = Inspect<proto::VerifyReport>(
      model, [&](const std::string& path) { return VerifyFile(path, options); },
      [&](onnx::ModelProto& proto) { return VerifyModel(proto, options); });
  if (report.ok() && !junit.empty()) {
    const absl::Status written =
        WithoutGil([&] { return WriteFileAtomically(junit, VerifyReportsToJunit({*report})); });
    if (!written.ok()) Raise(written);
  }
  const proto::VerifyReport& done = ValueOrRaise(std::move(report));
  return py::make_tuple(ToJson(done), VerifyReportToGithub(done));
}

std::string Diff(py::handle source_a, py::handle source_b, int threads) {
  Model a(source_a), b(source_b);
  absl::StatusOr<proto::DiffReport> report = WithoutGil([&]() -> absl::StatusOr<proto::DiffReport> {
    if (a.is_file() && b.is_file()) return DiffFiles(a.path(), b.path(), threads);
    ONNX_REINIT_RETURN_IF_ERROR(a.Open());
    ONNX_REINIT_RETURN_IF_ERROR(b.Open());
    auto report = DiffModels(a.proto(), a.payloads(), b.proto(), b.payloads(), threads);
    if (!report.ok()) return WithContext(report.status(), absl::StrCat(a.name(), " vs ", b.name()));
    report->set_model_a(a.path());
    report->set_model_b(b.path());
    return report;
  });
  return ToJson(ValueOrRaise(std::move(report)));
}

}  // namespace
}  // namespace onnx_reinit::python

PYBIND11_MODULE(_core, m) {
  using namespace onnx_reinit::python;
  m.doc() = "The compiled core of onnx_reinit; use the functions of the onnx_reinit package.";
  m.attr("__version__") = onnx_reinit::kVersion;
  model_error = PyErr_NewExceptionWithDoc(
      "onnx_reinit.ModelError",
      "The model cannot be read or re-initialized as it is (malformed, a scheme that does not fit "
      "a tensor, ...). A subclass of ValueError.",
      PyExc_ValueError, nullptr);
  m.attr("ModelError") = py::handle(model_error);
  m.def("reinitialize", &Reinitialize, py::arg("model"), py::arg("options"), py::arg("statistics"));
  m.def("reinitialize_file", &ReinitializeFile, py::arg("source"), py::arg("destination"), py::arg("options"),
        py::arg("statistics"), py::arg("report"));
  m.def("strip_file", &StripFile, py::arg("source"), py::arg("destination"), py::arg("options"));
  m.def("stats", &Stats, py::arg("model"), py::arg("scheme"), py::arg("threads"), py::arg("histogram_bins"),
        py::arg("hash"));
  m.def("verify", &Verify, py::arg("model"), py::arg("scheme"), py::arg("tolerance"), py::arg("threads"),
        py::arg("junit"));
  m.def("diff", &Diff, py::arg("a"), py::arg("b"), py::arg("threads"));
}
