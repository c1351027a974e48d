#include "onnx_reinit/csv_report.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onnx_reinit {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

TEST(CsvCell, QuotesOnlyCellsWithSeparatorsQuotesOrLineBreaks) {
  EXPECT_EQ(CsvCell("conv.weight"), "conv.weight");
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvCell(""), "");
}

proto::StatsReport OneTensorReport() {
  proto::StatsReport report;
  proto::TensorStats& t = *report.add_tensors();
  t.set_name("odd,name");
  t.set_role("weight");
  t.add_shape(8);
  t.add_shape(3);
  t.set_mean(0.1);  // 0.1 needs 17 digits to read back exactly
  t.set_std(1.0 / 3.0);
  t.set_count(24);
  return report;
}

TEST(StatsReportToCsv, HeaderNamesTheProtoFieldsAndHistogramSubfields) {
  const std::string csv = StatsReportToCsv(OneTensorReport());
  const std::vector<std::string> lines = absl::StrSplit(csv, "\r\n");
  ASSERT_EQ(lines.size(), 3u);  // header, one row, and the empty string after the last CRLF
  EXPECT_THAT(lines[0], StartsWith("name,source,op_type,input_index,role,dtype,shape,count,mean,std,"));
  EXPECT_THAT(lines[0], ::testing::HasSubstr(",histogram.low,histogram.high,histogram.counts"));
  EXPECT_EQ(lines[2], "");
}

TEST(StatsReportToCsv, RowsQuoteNamesAndKeepEveryDigit) {
  const std::string csv = StatsReportToCsv(OneTensorReport());
  const std::vector<std::string> lines = absl::StrSplit(csv, "\r\n");
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  EXPECT_THAT(lines[1], StartsWith("\"odd,name\",,,0,weight,,\"[8, 3]\",24,"));
  // After the quoted name and shape, the cells split on commas.
  std::string row = lines[1];
  row.replace(row.find("\"odd,name\""), 10, "n");
  row.replace(row.find("\"[8, 3]\""), 8, "s");
  const std::vector<std::string> cells = absl::StrSplit(row, ',');
  ASSERT_EQ(cells.size(), header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == "mean") {
      EXPECT_EQ(std::strtod(cells[c].c_str(), nullptr), 0.1);
    }
    if (header[c] == "std") {
      EXPECT_EQ(std::strtod(cells[c].c_str(), nullptr), 1.0 / 3.0);
    }
    // Unset optional fields and an absent histogram are empty cells, not zeros.
    if (header[c] == "fan_in" || header[c] == "target_std" || header[c] == "histogram.low") {
      EXPECT_EQ(cells[c], "") << header[c];
    }
  }
}

}  // namespace
}  // namespace onnx_reinit
