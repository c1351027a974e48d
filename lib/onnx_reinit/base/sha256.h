// SHA-256 (FIPS 180-4), for the integrity hashes of `stats --hash` and `diff`.
//
// Written here rather than linked: Debian's abseil and protobuf have none, and libcrypto (OpenSSL)
// would be a new run-time dependency of the library, the CLI and the .deb for one function. The
// tests check it against the FIPS 180-4 / NIST CAVP example vectors, including messages that end
// at every offset around the 55/56/64-byte padding boundaries, split into any pieces.
#ifndef ONNX_REINIT_BASE_SHA256_H_
#define ONNX_REINIT_BASE_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace onnx_reinit {

// An incremental SHA-256: Update with the message in pieces of any size, then Finish once.
class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  void Update(const void* data, size_t size);
  void Update(absl::string_view bytes) { Update(bytes.data(), bytes.size()); }
  Digest Finish();

 private:
  void Compress(const uint8_t* block);
  // Compresses `blocks` blocks of 64 bytes, with the CPU's SHA extensions when it has them.
  void CompressBlocks(const uint8_t* data, size_t blocks);

  std::array<uint32_t, 8> state_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes so far
};

// The 64 lowercase hex digits of a digest, as sha256sum prints them.
std::string HexDigest(const Sha256::Digest& digest);
// HexDigest of the SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace onnx_reinit

#endif  // ONNX_REINIT_BASE_SHA256_H_
