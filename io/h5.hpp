#pragma once
// A small RAII layer over the HDF5 C API, used by the store (io/store.cpp) only.
//
// Handles close themselves; every failing HDF5 call becomes emb::RuntimeError with
// one sentence naming the file and the object path. Reads that find a dataset of
// the wrong kind (rank, type class) throw emb::InputError: the file is at fault.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <hdf5.h>

namespace emb::io::h5 {

/// @brief Owns one HDF5 identifier and closes it with Close.
template <herr_t (*Close)(hid_t)>
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { close(); }
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      close();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  /// @brief Closes now and reports the status (a file close can fail while flushing).
  herr_t close() { return id_ >= 0 ? Close(std::exchange(id_, H5I_INVALID_HID)) : 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Id<H5Fclose>;
using Group = Id<H5Gclose>;
using Dataset = Id<H5Dclose>;
using Space = Id<H5Sclose>;
using Type = Id<H5Tclose>;
using Attr = Id<H5Aclose>;
using Plist = Id<H5Pclose>;
using Object = Id<H5Oclose>;

// ---- errors and files ----------------------------------------------------

/// @brief Stops HDF5 printing its error stack to stderr; our exceptions say it once.
void silence_errors();

/// @brief Throws emb::RuntimeError: "HDF5 could not <action> <path> in <file>: <detail>".
[[noreturn]] void fail(const std::string& file, const std::string& path, const std::string& action);
/// @brief As above, taking the file name from any identifier inside it.
[[noreturn]] void fail(hid_t loc, const std::string& path, const std::string& action);

/// @brief Name of the file that holds loc.
std::string file_name(hid_t loc);

/// @brief Whether a path names an HDF5 file (false for a missing or other file).
bool is_hdf5(const std::string& path);
/// @brief Opens an existing file read-only.
File open_file(const std::string& path);
/// @brief Creates a new file, failing if it exists.
File create_file(const std::string& path);
/// @brief Opens an existing file for reading and writing.
File open_file_rw(const std::string& path);
/// @brief Writes everything the library holds for the file to it (not to the disk: fsync that).
void flush(hid_t file);

// ---- objects ---------------------------------------------------------------

/// @brief Whether every link along an absolute or relative path exists.
bool exists(hid_t loc, const std::string& path);
/// @brief Whether path exists and is a group (false) or a dataset (true); throws if missing.
bool is_dataset(hid_t loc, const std::string& path);
Group open_group(hid_t loc, const std::string& path);
/// @brief Creates a group, creating missing parents too.
Group create_group(hid_t loc, const std::string& path);
Dataset open_dataset(hid_t loc, const std::string& path);
/// @brief Unlinks path if it exists.
void remove(hid_t loc, const std::string& path);
/// @brief Names of the direct members of a group, in name order.
std::vector<std::string> members(hid_t group);
/// @brief Copies an object (and all below it) to the same path in another file.
void copy_object(hid_t src_file, hid_t dst_file, const std::string& path);
/// @brief Copies every attribute of one object onto another.
void copy_attributes(hid_t src, hid_t dst);

// ---- datasets --------------------------------------------------------------

/// @brief Dimensions of a dataset.
std::vector<hsize_t> shape(hid_t loc, const std::string& path);

void write_vector(hid_t loc, const std::string& path, std::span<const int32_t> v);
void write_vector(hid_t loc, const std::string& path, std::span<const int64_t> v);
void write_vector(hid_t loc, const std::string& path, std::span<const float> v);
/// @brief Reads a 1-D numeric dataset, converting to T; InputError if not 1-D numeric.
template <class T>
std::vector<T> read_vector(hid_t loc, const std::string& path);

/// @brief Writes a rows x cols float32 dataset, chunked by whole rows (about 1 MiB a chunk).
void write_matrix(hid_t loc, const std::string& path, const float* data, int64_t rows, int64_t cols);
/// @brief Writes a rows x cols float64 dataset (contiguous).
void write_double_matrix(hid_t loc, const std::string& path, const double* data, int64_t rows, int64_t cols);
/// @brief Creates a rows x cols dataset of float32 (or float64) filled later, row block by
///        row block, with write_rows(). Its storage is contiguous and allocated now, and
///        it records no times, so that writing rows changes no metadata: a process
///        killed between writes leaves a file whose finished rows read back.
void create_rows_matrix(hid_t loc, const std::string& path, int64_t rows, int64_t cols, bool double_precision);
/// @brief Writes rows [row0, row0 + rows) of a 2-D float32 or float64 dataset.
void write_rows(hid_t loc, const std::string& path, int64_t row0, int64_t rows, const float* data);
void write_rows(hid_t loc, const std::string& path, int64_t row0, int64_t rows, const double* data);
/// @brief Reads a 1-D or 2-D numeric dataset as float64, row-major; `cols` is 1 for 1-D.
std::vector<double> read_doubles(hid_t loc, const std::string& path, int64_t* rows = nullptr, int64_t* cols = nullptr);
/// @brief One column of a compound (table) dataset: int64 or float64 values.
struct TableColumn {
  std::string name;
  const int64_t* ints = nullptr;    ///< exactly one of ints and doubles is set
  const double* doubles = nullptr;
};
/// @brief Writes a 1-D compound dataset of `rows` records whose fields are the
///        columns, in order (numpy reads it as a structured array).
void write_table(hid_t loc, const std::string& path, int64_t rows, const std::vector<TableColumn>& columns);
/// @brief Reads field `name` of a 1-D compound dataset, converted to int64 or float64.
std::vector<int64_t> read_table_ints(hid_t loc, const std::string& path, const std::string& name);
std::vector<double> read_table_doubles(hid_t loc, const std::string& path, const std::string& name);

/// @brief A row-major float matrix read from a file.
struct FloatMatrix {
  std::vector<float> data;
  int64_t rows = 0;
  int64_t cols = 0;
};
/// @brief Reads a 2-D float dataset of any precision as float32; InputError otherwise.
FloatMatrix read_matrix(hid_t loc, const std::string& path);

/// @brief Writes a 1-D variable-length UTF-8 string dataset.
void write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& v);
/// @brief Reads a 1-D string dataset (variable or fixed length).
std::vector<std::string> read_strings(hid_t loc, const std::string& path);

// ---- attributes (replacing any of the same name) ---------------------------

bool has_attr(hid_t obj, const std::string& name);
void set_string_attr(hid_t obj, const std::string& name, const std::string& value);
void set_int_attr(hid_t obj, const std::string& name, int64_t value);
void set_double_attr(hid_t obj, const std::string& name, double value);
/// @brief Stored as uint8 0/1 (HDF5 has no boolean type).
void set_bool_attr(hid_t obj, const std::string& name, bool value);
std::string string_attr(hid_t obj, const std::string& name);
int64_t int_attr(hid_t obj, const std::string& name);
double double_attr(hid_t obj, const std::string& name);
bool bool_attr(hid_t obj, const std::string& name);

// ---- fault injection ---------------------------------------------------------

/// @brief After n more dataset writes the next one throws once; n < 0 disables.
/// The budget starts from EMBCLUST_FAIL_AFTER_WRITES when that is set.
void set_write_budget(int n);

}  // namespace emb::io::h5
