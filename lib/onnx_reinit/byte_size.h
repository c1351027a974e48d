// Byte counts as people read them, for the CLI's tables and the HTML report alike.
#ifndef ONNX_REINIT_BYTE_SIZE_H_
#define ONNX_REINIT_BYTE_SIZE_H_

#include <cstdint>
#include <string>

namespace onnx_reinit {

// "512 B", "3.1 KiB", "1.5 GiB": binary units, three significant digits.
std::string FormatBytes(int64_t n);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BYTE_SIZE_H_
