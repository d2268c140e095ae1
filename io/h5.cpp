#include "io/h5.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "host/core/error.hpp"

namespace emb::io::h5 {
namespace {

herr_t take_innermost(unsigned n, const H5E_error2_t* e, void* out) {
  if (n == 0 && e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
  return 0;
}

// Must run right after the failing call: any later API call clears the stack.
std::string error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  // File errors end with open flags in hex: noise to a user.
  if (auto cut = detail.find(", flags = "); cut != std::string::npos) detail.resize(cut);
  return detail;
}

[[noreturn]] void throw_error(const std::string& file, const std::string& path, const std::string& action,
                        const std::string& detail) {
  std::string msg = "HDF5 could not " + action + " ";
  msg += path.empty() ? file : path + " in " + file;
  if (!detail.empty()) msg += ": " + detail;
  throw RuntimeError(msg);
}

template <class T>
T check(T status, hid_t loc, const std::string& path, const std::string& action) {
  if (status < 0) fail(loc, path, action);
  return status;
}

std::string object_name(hid_t obj) {
  ssize_t n = H5Iget_name(obj, nullptr, 0);
  if (n <= 0) return "?";
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  H5Iget_name(obj, buf.data(), buf.size());
  return buf.data();
}

// As check(), naming the object by its own path; the name is looked up only on
// failure, after the error stack has been read.
template <class T>
T check_at(T status, hid_t obj, const std::string& action) {
  if (status < 0) {
    std::string detail = error_detail();
    throw_error(file_name(obj), object_name(obj), action, detail);
  }
  return status;
}

[[noreturn]] void bad_content(hid_t loc, const std::string& path, const std::string& expected) {
  throw InputError(path + " in " + file_name(loc) + " is not " + expected);
}

// Link properties: create missing parents; names are UTF-8 (clustering names may be).
Plist link_plist() {
  Plist lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  return lcpl;
}

Plist file_access_plist() {
  Plist fapl(H5Pcreate(H5P_FILE_ACCESS));
  // Closing the file then really closes it, so a rename after it sees every byte.
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  // Keep locking where the file system has it; do not fail where it has none (NFS).
  H5Pset_file_locking(fapl.get(), true, true);
#endif
  return fapl;
}

// Frees what HDF5 allocated for variable-length values read into buf.
void reclaim(hid_t type, hid_t space, hid_t plist, void* buf) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(type, space, plist, buf);
#else
  H5Dvlen_reclaim(type, space, plist, buf);
#endif
}

Type utf8_string_type(H5T_cset_t cset = H5T_CSET_UTF8) {
  Type t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), cset);
  return t;
}

std::atomic<int>& write_budget() {
  static std::atomic<int> budget{[] {
    const char* env = std::getenv("EMBCLUST_FAIL_AFTER_WRITES");
    if (!env || !*env) return -1;
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    return *end == '\0' ? static_cast<int>(n) : -1;
  }()};
  return budget;
}

// Spends one unit of the budget; the write that finds it empty fails (once).
void count_write(hid_t loc, const std::string& path) {
  auto& budget = write_budget();
  int left = budget.load();
  while (left >= 0 && !budget.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 0) throw RuntimeError("injected write failure writing " + path + " in " + file_name(loc));
}

// One dataset write: the single place fault injection counts.
void write_array(hid_t loc, const std::string& path, hid_t ftype, hid_t mtype, const void* buf,
                 const std::vector<hsize_t>& dims, hid_t dcpl = H5P_DEFAULT) {
  count_write(loc, path);
  Space space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), loc, path,
                    "create a dataspace for"));
  Dataset d(check(H5Dcreate2(loc, path.c_str(), ftype, space.get(), link_plist().get(), dcpl, H5P_DEFAULT),
                  loc, path, "create dataset"));
  if (H5Sget_simple_extent_npoints(space.get()) == 0) return;
  check(H5Dwrite(d.get(), mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), loc, path, "write dataset");
}

struct Numeric {
  hid_t mem;
  hid_t file;
};
template <class T>
Numeric numeric();
template <>
Numeric numeric<int32_t>() { return {H5T_NATIVE_INT32, H5T_STD_I32LE}; }
template <>
Numeric numeric<int64_t>() { return {H5T_NATIVE_INT64, H5T_STD_I64LE}; }
template <>
Numeric numeric<float>() { return {H5T_NATIVE_FLOAT, H5T_IEEE_F32LE}; }

template <class T>
void write_numeric(hid_t loc, const std::string& path, std::span<const T> v) {
  write_array(loc, path, numeric<T>().file, numeric<T>().mem, v.data(), {v.size()});
}

// Opens an attribute and checks it holds a single value of one of the classes.
Attr open_scalar_attr(hid_t obj, const std::string& name, std::initializer_list<H5T_class_t> classes,
                      const char* expected) {
  Attr a(check_at(H5Aopen(obj, name.c_str(), H5P_DEFAULT), obj, "open attribute " + name + " of"));
  Type t(H5Aget_type(a.get()));
  Space s(H5Aget_space(a.get()));
  H5T_class_t cls = H5Tget_class(t.get());
  if (std::find(classes.begin(), classes.end(), cls) == classes.end() || H5Sget_simple_extent_npoints(s.get()) != 1)
    bad_content(obj, "attribute " + name + " of " + object_name(obj), expected);
  return a;
}

void write_scalar_attr(hid_t obj, const std::string& name, hid_t ftype, hid_t mtype, const void* value) {
  const std::string where = " attribute " + name + " of";
  if (check_at(H5Aexists(obj, name.c_str()), obj, "look up" + where) > 0)
    check_at(H5Adelete(obj, name.c_str()), obj, "delete" + where);
  Space space(H5Screate(H5S_SCALAR));
  Attr a(check_at(H5Acreate2(obj, name.c_str(), ftype, space.get(), H5P_DEFAULT, H5P_DEFAULT), obj, "create" + where));
  check_at(H5Awrite(a.get(), mtype, value), obj, "write" + where);
}

herr_t collect_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

}  // namespace

// ---- errors and files ----------------------------------------------------

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void fail(const std::string& file, const std::string& path, const std::string& action) {
  throw_error(file, path, action, error_detail());
}

void fail(hid_t loc, const std::string& path, const std::string& action) {
  std::string detail = error_detail();
  throw_error(file_name(loc), path, action, detail);
}

std::string file_name(hid_t loc) {
  ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n < 0) return "(unknown file)";
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  H5Fget_name(loc, buf.data(), buf.size());
  return buf.data();
}

bool is_hdf5(const std::string& path) {
  silence_errors();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
#if H5_VERSION_GE(1, 12, 0)
  return H5Fis_accessible(path.c_str(), H5P_DEFAULT) > 0;
#else
  return H5Fis_hdf5(path.c_str()) > 0;
#endif
}

File open_file(const std::string& path) {
  silence_errors();
  Plist fapl = file_access_plist();  // outlives the call: closing it would clear the error stack
  File f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!f) fail(path, "", "open");
  return f;
}

File create_file(const std::string& path) {
  silence_errors();
  Plist fapl = file_access_plist();
  File f(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()));
  if (!f) fail(path, "", "create");
  return f;
}

File open_file_rw(const std::string& path) {
  silence_errors();
  Plist fapl = file_access_plist();
  File f(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()));
  if (!f) fail(path, "", "open for writing");
  return f;
}

void flush(hid_t file) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) fail(file, "", "flush");
}

// ---- objects ---------------------------------------------------------------

bool exists(hid_t loc, const std::string& path) {
  // H5Lexists fails rather than answers when a parent is missing: walk down.
  std::string prefix = path.starts_with('/') ? "/" : "";
  size_t pos = prefix.size();
  while (pos < path.size()) {
    size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += path.substr(pos, end - pos);
      if (check(H5Lexists(loc, prefix.c_str(), H5P_DEFAULT), loc, prefix, "look up") <= 0) return false;
    }
    pos = end + 1;
  }
  return true;
}

bool is_dataset(hid_t loc, const std::string& path) {
  Object o(check(H5Oopen(loc, path.c_str(), H5P_DEFAULT), loc, path, "open"));
  return H5Iget_type(o.get()) == H5I_DATASET;
}

Group open_group(hid_t loc, const std::string& path) {
  return Group(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), loc, path, "open group"));
}

Group create_group(hid_t loc, const std::string& path) {
  return Group(check(H5Gcreate2(loc, path.c_str(), link_plist().get(), H5P_DEFAULT, H5P_DEFAULT), loc, path,
                     "create group"));
}

Dataset open_dataset(hid_t loc, const std::string& path) {
  return Dataset(check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), loc, path, "open dataset"));
}

void remove(hid_t loc, const std::string& path) {
  if (exists(loc, path)) check(H5Ldelete(loc, path.c_str(), H5P_DEFAULT), loc, path, "delete");
}

std::vector<std::string> members(hid_t group) {
  H5G_info_t info;
  check_at(H5Gget_info(group, &info), group, "list group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = check_at(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT), group,
                         "list group");
    std::vector<char> buf(static_cast<size_t>(n) + 1);
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf.data(), buf.size(), H5P_DEFAULT);
    names.emplace_back(buf.data());
  }
  return names;
}

void copy_object(hid_t src_file, hid_t dst_file, const std::string& path) {
  if (H5Ocopy(src_file, path.c_str(), dst_file, path.c_str(), H5P_DEFAULT, link_plist().get()) < 0) {
    std::string detail = error_detail();
    throw_error(file_name(dst_file), "", "copy " + path + " from " + file_name(src_file) + " to", detail);
  }
}

void copy_attributes(hid_t src, hid_t dst) {
  std::vector<std::string> names;
  check_at(H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), src, "list attributes of");
  for (const auto& name : names) {
    const std::string what = "copy attribute " + name + " of";
    Attr a(check_at(H5Aopen(src, name.c_str(), H5P_DEFAULT), src, what));
    Type ftype(H5Aget_type(a.get()));
    Type mtype(H5Tget_native_type(ftype.get(), H5T_DIR_DEFAULT));
    Space space(H5Aget_space(a.get()));
    check_at(std::min({ftype.get(), mtype.get(), space.get()}), src, what);  // any invalid id
    size_t bytes = static_cast<size_t>(H5Sget_select_npoints(space.get())) * H5Tget_size(mtype.get());
    std::vector<unsigned char> buf(std::max<size_t>(bytes, 1));
    check_at(H5Aread(a.get(), mtype.get(), buf.data()), src, what);
    // Variable-length values point into HDF5-allocated memory: free it on every path.
    struct Reclaim {
      hid_t t, s;
      void* b;
      ~Reclaim() { reclaim(t, s, H5P_DEFAULT, b); }
    } guard{mtype.get(), space.get(), buf.data()};
    Attr out(check_at(H5Acreate2(dst, name.c_str(), ftype.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), dst, what));
    check_at(H5Awrite(out.get(), mtype.get(), buf.data()), dst, what);
  }
}

// ---- datasets --------------------------------------------------------------

std::vector<hsize_t> shape(hid_t loc, const std::string& path) {
  Dataset d = open_dataset(loc, path);
  Space s(check(H5Dget_space(d.get()), loc, path, "read the shape of"));
  int rank = check(H5Sget_simple_extent_ndims(s.get()), loc, path, "read the shape of");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  return dims;
}

void write_vector(hid_t loc, const std::string& path, std::span<const int32_t> v) { write_numeric(loc, path, v); }
void write_vector(hid_t loc, const std::string& path, std::span<const int64_t> v) { write_numeric(loc, path, v); }
void write_vector(hid_t loc, const std::string& path, std::span<const float> v) { write_numeric(loc, path, v); }

template <class T>
std::vector<T> read_vector(hid_t loc, const std::string& path) {
  Dataset d = open_dataset(loc, path);
  Type t(H5Dget_type(d.get()));
  H5T_class_t cls = H5Tget_class(t.get());
  auto dims = shape(loc, path);
  if (dims.size() != 1 || (cls != H5T_INTEGER && cls != H5T_FLOAT)) bad_content(loc, path, "a 1-D numeric dataset");
  std::vector<T> v(dims[0]);
  if (!v.empty())
    check(H5Dread(d.get(), numeric<T>().mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), loc, path, "read dataset");
  return v;
}
template std::vector<int32_t> read_vector<int32_t>(hid_t, const std::string&);
template std::vector<int64_t> read_vector<int64_t>(hid_t, const std::string&);
template std::vector<float> read_vector<float>(hid_t, const std::string&);

void write_matrix(hid_t loc, const std::string& path, const float* data, int64_t rows, int64_t cols) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  Plist dcpl(H5Pcreate(H5P_DATASET_CREATE));
  // Whole rows per chunk, about 1 MiB each: row-range reads touch few chunks.
  // HDF5 cannot chunk an empty dataset, so an empty one stays contiguous.
  if (rows > 0 && cols > 0) {
    hsize_t chunk_rows = std::clamp<hsize_t>((1u << 20) / (dims[1] * sizeof(float)), 1, dims[0]);
    hsize_t chunk[2] = {chunk_rows, dims[1]};
    check(H5Pset_chunk(dcpl.get(), 2, chunk), loc, path, "set the chunks of");
  }
  write_array(loc, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, dims, dcpl.get());
}

void create_rows_matrix(hid_t loc, const std::string& path, int64_t rows, int64_t cols, bool double_precision) {
  count_write(loc, path);
  const hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  Space space(check(H5Screate_simple(2, dims, nullptr), loc, path, "create a dataspace for"));
  Plist dcpl(H5Pcreate(H5P_DATASET_CREATE));
  check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), loc, path, "set the layout of");
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), loc, path, "set the allocation of");
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), loc, path, "set the fill of");
  check(H5Pset_obj_track_times(dcpl.get(), false), loc, path, "set the times of");
  const hid_t type = double_precision ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
  Dataset d(check(H5Dcreate2(loc, path.c_str(), type, space.get(), link_plist().get(), dcpl.get(), H5P_DEFAULT),
                  loc, path, "create dataset"));
}

namespace {
void write_rows_as(hid_t loc, const std::string& path, int64_t row0, int64_t rows, hid_t mtype, const void* data) {
  count_write(loc, path);
  Dataset d = open_dataset(loc, path);
  Space file_space(check(H5Dget_space(d.get()), loc, path, "get the dataspace of"));
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(file_space.get()) != 2) bad_content(loc, path, "a 2-D dataset");
  H5Sget_simple_extent_dims(file_space.get(), dims, nullptr);
  if (row0 < 0 || rows < 0 || static_cast<hsize_t>(row0 + rows) > dims[0])
    throw RuntimeError("rows " + std::to_string(row0) + " to " + std::to_string(row0 + rows) + " are outside " +
                       path + " in " + file_name(loc) + ", which has " + std::to_string(dims[0]) + " rows");
  if (rows == 0 || dims[1] == 0) return;
  const hsize_t start[2] = {static_cast<hsize_t>(row0), 0}, count[2] = {static_cast<hsize_t>(rows), dims[1]};
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), loc, path,
        "select rows of");
  Space mem(check(H5Screate_simple(2, count, nullptr), loc, path, "create a dataspace for"));
  check(H5Dwrite(d.get(), mtype, mem.get(), file_space.get(), H5P_DEFAULT, data), loc, path, "write rows of");
}
}  // namespace

void write_rows(hid_t loc, const std::string& path, int64_t row0, int64_t rows, const float* data) {
  write_rows_as(loc, path, row0, rows, H5T_NATIVE_FLOAT, data);
}
void write_rows(hid_t loc, const std::string& path, int64_t row0, int64_t rows, const double* data) {
  write_rows_as(loc, path, row0, rows, H5T_NATIVE_DOUBLE, data);
}

void write_double_matrix(hid_t loc, const std::string& path, const double* data, int64_t rows, int64_t cols) {
  write_array(loc, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data,
              {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)});
}

std::vector<double> read_doubles(hid_t loc, const std::string& path, int64_t* rows, int64_t* cols) {
  Dataset d = open_dataset(loc, path);
  Type t(H5Dget_type(d.get()));
  auto dims = shape(loc, path);
  H5T_class_t cls = H5Tget_class(t.get());
  if (dims.empty() || dims.size() > 2 || (cls != H5T_INTEGER && cls != H5T_FLOAT))
    bad_content(loc, path, "a 1-D or 2-D numeric dataset");
  const hsize_t r = dims[0], c = dims.size() == 2 ? dims[1] : 1;
  std::vector<double> v(r * c);
  if (!v.empty())
    check(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), loc, path, "read dataset");
  if (rows) *rows = static_cast<int64_t>(r);
  if (cols) *cols = static_cast<int64_t>(c);
  return v;
}

void write_table(hid_t loc, const std::string& path, int64_t rows, const std::vector<TableColumn>& columns) {
  // Records packed as the file type describes them: 8 bytes per field.
  const size_t width = 8 * columns.size();
  Type ftype(H5Tcreate(H5T_COMPOUND, width));
  Type mtype(H5Tcreate(H5T_COMPOUND, width));
  if (!ftype || !mtype) fail(loc, path, "create the record type of");
  std::vector<unsigned char> buf(width * static_cast<size_t>(rows));
  for (size_t f = 0; f < columns.size(); ++f) {
    const TableColumn& col = columns[f];
    const bool is_int = col.ints != nullptr;
    check(H5Tinsert(ftype.get(), col.name.c_str(), 8 * f, is_int ? H5T_STD_I64LE : H5T_IEEE_F64LE), loc, path,
          "describe the records of");
    check(H5Tinsert(mtype.get(), col.name.c_str(), 8 * f, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE), loc, path,
          "describe the records of");
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(buf.data() + width * r + 8 * f, is_int ? static_cast<const void*>(col.ints + r)
                                                          : static_cast<const void*>(col.doubles + r), 8);
  }
  write_array(loc, path, ftype.get(), mtype.get(), buf.data(), {static_cast<hsize_t>(rows)});
}

namespace {
template <class T>
std::vector<T> read_field(hid_t loc, const std::string& path, const std::string& name, hid_t native) {
  Dataset d = open_dataset(loc, path);
  Type t(H5Dget_type(d.get()));
  auto dims = shape(loc, path);
  if (dims.size() != 1 || H5Tget_class(t.get()) != H5T_COMPOUND || H5Tget_member_index(t.get(), name.c_str()) < 0)
    bad_content(loc, path, "a table with a field " + name);
  Type mtype(H5Tcreate(H5T_COMPOUND, sizeof(T)));
  check(H5Tinsert(mtype.get(), name.c_str(), 0, native), loc, path, "describe the records of");
  std::vector<T> v(dims[0]);
  if (!v.empty())
    check(H5Dread(d.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), loc, path, "read dataset");
  return v;
}
}  // namespace

std::vector<int64_t> read_table_ints(hid_t loc, const std::string& path, const std::string& name) {
  return read_field<int64_t>(loc, path, name, H5T_NATIVE_INT64);
}
std::vector<double> read_table_doubles(hid_t loc, const std::string& path, const std::string& name) {
  return read_field<double>(loc, path, name, H5T_NATIVE_DOUBLE);
}

FloatMatrix read_matrix(hid_t loc, const std::string& path) {
  Dataset d = open_dataset(loc, path);
  Type t(H5Dget_type(d.get()));
  auto dims = shape(loc, path);
  if (dims.size() != 2 || H5Tget_class(t.get()) != H5T_FLOAT) bad_content(loc, path, "a 2-D float dataset");
  FloatMatrix m{std::vector<float>(dims[0] * dims[1]), static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])};
  // HDF5 converts other precisions (float16 written by numpy, float64) to float32 here.
  if (!m.data.empty())
    check(H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data.data()), loc, path,
          "read dataset");
  return m;
}

void write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& v) {
  std::vector<const char*> ptrs(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    // HDF5 strings end at the first NUL: refuse rather than truncate silently.
    if (v[i].find('\0') != std::string::npos)
      throw InputError("string " + std::to_string(i) + " for " + path + " in " + file_name(loc) +
                       " contains a NUL byte, which an HDF5 string cannot hold");
    ptrs[i] = v[i].c_str();
  }
  Type t = utf8_string_type();
  write_array(loc, path, t.get(), t.get(), ptrs.data(), {v.size()});
}

std::vector<std::string> read_strings(hid_t loc, const std::string& path) {
  Dataset d = open_dataset(loc, path);
  Type ftype(H5Dget_type(d.get()));
  auto dims = shape(loc, path);
  if (dims.size() != 1 || H5Tget_class(ftype.get()) != H5T_STRING) bad_content(loc, path, "a 1-D string dataset");
  std::vector<std::string> out(dims[0]);
  if (out.empty()) return out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Type mtype = utf8_string_type(H5Tget_cset(ftype.get()));
    std::vector<char*> ptrs(out.size(), nullptr);
    check(H5Dread(d.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), loc, path, "read dataset");
    for (size_t i = 0; i < out.size(); ++i)
      if (ptrs[i]) out[i] = ptrs[i];
    Space space(H5Dget_space(d.get()));
    reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    size_t width = H5Tget_size(ftype.get());
    std::vector<char> buf(out.size() * width);
    check(H5Dread(d.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), loc, path, "read dataset");
    for (size_t i = 0; i < out.size(); ++i) {
      const char* s = buf.data() + i * width;
      out[i].assign(s, strnlen(s, width));
    }
  }
  return out;
}

// ---- attributes ------------------------------------------------------------

bool has_attr(hid_t obj, const std::string& name) {
  return check_at(H5Aexists(obj, name.c_str()), obj, "look up attribute " + name + " of") > 0;
}

void set_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  Type t = utf8_string_type();
  const char* p = value.c_str();
  write_scalar_attr(obj, name, t.get(), t.get(), &p);
}

void set_int_attr(hid_t obj, const std::string& name, int64_t value) {
  write_scalar_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void set_double_attr(hid_t obj, const std::string& name, double value) {
  write_scalar_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void set_bool_attr(hid_t obj, const std::string& name, bool value) {
  uint8_t v = value ? 1 : 0;
  write_scalar_attr(obj, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, &v);
}

std::string string_attr(hid_t obj, const std::string& name) {
  Attr a = open_scalar_attr(obj, name, {H5T_STRING}, "a string");
  Type ftype(H5Aget_type(a.get()));
  const std::string what = "read attribute " + name + " of";
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Type mtype = utf8_string_type(H5Tget_cset(ftype.get()));
    char* p = nullptr;
    check_at(H5Aread(a.get(), mtype.get(), &p), obj, what);
    std::string s = p ? p : "";
    Space space(H5Aget_space(a.get()));
    reclaim(mtype.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  std::vector<char> buf(H5Tget_size(ftype.get()));
  check_at(H5Aread(a.get(), ftype.get(), buf.data()), obj, what);
  return std::string(buf.data(), strnlen(buf.data(), buf.size()));
}

int64_t int_attr(hid_t obj, const std::string& name) {
  Attr a = open_scalar_attr(obj, name, {H5T_INTEGER}, "an integer");
  int64_t v = 0;
  check_at(H5Aread(a.get(), H5T_NATIVE_INT64, &v), obj, "read attribute " + name + " of");
  return v;
}

double double_attr(hid_t obj, const std::string& name) {
  Attr a = open_scalar_attr(obj, name, {H5T_FLOAT, H5T_INTEGER}, "a number");
  double v = 0;
  check_at(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), obj, "read attribute " + name + " of");
  return v;
}

bool bool_attr(hid_t obj, const std::string& name) { return int_attr(obj, name) != 0; }

// ---- fault injection ---------------------------------------------------------

void set_write_budget(int n) { write_budget().store(n < 0 ? -1 : n); }

}  // namespace emb::io::h5
