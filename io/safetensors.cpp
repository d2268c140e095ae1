#include "io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "host/core/error.hpp"

namespace emb::io {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so must the host be");

// Bytes per element of every dtype safetensors defines, so tensors we do not read
// (I64 position ids, say) are still checked against the file; 0 for names we do not know.
size_t element_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

bool parse_supported(const std::string& dtype, TensorDType* out) {
  if (dtype == "F32") *out = TensorDType::F32;
  else if (dtype == "F16") *out = TensorDType::F16;
  else if (dtype == "BF16") *out = TensorDType::BF16;
  else return false;
  return true;
}

bool is_count(const nlohmann::json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0); }

// nlohmann messages start with "[json.exception.parse_error.101] "; the rest reads well alone.
std::string json_reason(const std::exception& e) {
  std::string s = e.what();
  if (s.starts_with("[json.exception.")) {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

}  // namespace

const char* to_string(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::F32: return "F32";
    case TensorDType::F16: return "F16";
    case TensorDType::BF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(TensorDType dtype) { return dtype == TensorDType::F32 ? 4 : 2; }

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant x 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, NaN (payload kept)
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));  // rebias 15 -> 127
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafeTensors SafeTensors::open(const std::string& path) {
  std::error_code ec;
  EMB_EXPECTS(std::filesystem::exists(path, ec), "cannot read ", path, ": no such file");
  EMB_EXPECTS(!std::filesystem::is_directory(path, ec), path, " is a folder, not a safetensors file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EMB_EXPECTS(fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw RuntimeError(detail::concat("cannot stat ", path, ": ", std::strerror(err)));
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw InputError(detail::concat(path, " is not a safetensors file: it is ", size,
                                    " bytes long, shorter than the 8-byte header length"));
  }
  SafeTensors s;  // from here on its destructor unmaps whatever goes wrong
  s.path_ = path;
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (map == MAP_FAILED) throw RuntimeError(detail::concat("cannot map ", path, ": ", std::strerror(map_err)));
  s.map_ = map;
  s.map_size_ = size;

  const auto* bytes = static_cast<const unsigned char*>(map);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  EMB_EXPECTS(header_len <= size - 8, path, " is not a safetensors file or is truncated: its header length ",
              header_len, " runs past the end of the file (", size, " bytes)");
  const char* header = reinterpret_cast<const char*>(bytes + 8);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, header + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(detail::concat(path, " has a header that is not valid JSON (", json_reason(e), ")"));
  }
  EMB_EXPECTS(j.is_object(), path, " has a header that is not a JSON object");

  const unsigned char* data = bytes + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      EMB_EXPECTS(entry.is_object(), path, ": __metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items())
        s.metadata_[key] = value.is_string() ? value.get<std::string>() : value.dump();
      continue;
    }
    const auto malformed = [&](const char* what) {
      return InputError(detail::concat(path, ": the header entry of tensor ", name, " ", what));
    };
    if (!entry.is_object()) throw malformed("is not a JSON object");
    const auto dt = entry.find("dtype");
    const auto sh = entry.find("shape");
    const auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) throw malformed("has no dtype string");
    if (sh == entry.end() || !sh->is_array() || !std::all_of(sh->begin(), sh->end(), is_count))
      throw malformed("has no shape (an array of non-negative integers)");
    if (off == entry.end() || !off->is_array() || off->size() != 2 || !is_count((*off)[0]) || !is_count((*off)[1]))
      throw malformed("has no data_offsets (two non-negative integers)");
    const std::string dtype = dt->get<std::string>();
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    EMB_EXPECTS(begin <= end && end <= data_size, path, " is truncated or corrupt: tensor ", name,
                " has data_offsets [", begin, ", ", end, "] outside the data area of ", data_size, " bytes");
    std::vector<int64_t> shape;
    uint64_t elements = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      const uint64_t n = d.get<uint64_t>();
      overflow |= n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(elements, n, &elements);
      shape.push_back(static_cast<int64_t>(n));
    }
    const size_t esize = element_size(dtype);
    uint64_t need = 0;
    overflow |= __builtin_mul_overflow(elements, static_cast<uint64_t>(esize), &need);
    EMB_EXPECTS(esize == 0 || (!overflow && need == end - begin), path, " is truncated or corrupt: tensor ", name,
                " has dtype ", dtype, " and shape ", shape_string(shape), " but its data_offsets [", begin, ", ", end,
                "] span ", end - begin, " bytes", overflow ? "" : detail::concat(", not ", need));
    TensorDType supported;
    if (!parse_supported(dtype, &supported)) {
      s.unsupported_[name] = dtype;
      continue;
    }
    s.tensors_[name] = TensorInfo{name, supported, std::move(shape), data + begin, static_cast<size_t>(end - begin)};
  }
  return s;
}

SafeTensors::~SafeTensors() { unmap(); }

void SafeTensors::unmap() noexcept {
  if (map_) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

SafeTensors::SafeTensors(SafeTensors&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      tensors_(std::move(other.tensors_)),
      unsupported_(std::move(other.unsupported_)),
      metadata_(std::move(other.metadata_)) {}

SafeTensors& SafeTensors::operator=(SafeTensors&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    tensors_ = std::move(other.tensors_);
    unsupported_ = std::move(other.unsupported_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

bool SafeTensors::has(const std::string& name) const { return tensors_.contains(name) || unsupported_.contains(name); }

const TensorInfo& SafeTensors::get(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it != tensors_.end()) return it->second;
  const auto bad = unsupported_.find(name);
  EMB_EXPECTS(bad == unsupported_.end(), "unsupported dtype ", bad->second, " of tensor ", name, " in ", path_,
              " (embclust reads F32, F16 and BF16)");
  throw InputError(detail::concat(path_, " has no tensor ", name));
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size() + unsupported_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  for (const auto& [name, dtype] : unsupported_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

const std::string& SafeTensors::path() const { return path_; }

void SafeTensors::read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const {
  const TensorInfo& t = get(name);
  EMB_EXPECTS(t.shape == shape, "tensor ", name, " in ", path_, " has shape ", shape_string(t.shape),
              " but config.json implies ", shape_string(shape));
  const auto* src = static_cast<const unsigned char*>(t.data);
  const size_t n = t.nbytes / dtype_size(t.dtype);
  // memcpy per element: the data need not be aligned to its element size.
  switch (t.dtype) {
    case TensorDType::F32:
      std::memcpy(out, src, t.nbytes);
      break;
    case TensorDType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = half_to_float(h);
      }
      break;
    case TensorDType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, src + 2 * i, 2);
        out[i] = bf16_to_float(b);
      }
      break;
  }
}

std::map<std::string, std::string> SafeTensors::metadata() const { return metadata_; }

}  // namespace emb::io
