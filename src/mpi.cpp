#include "pmap/mpi.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/limits.hpp"

namespace pmap::mpi {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw RuntimeError(std::string("MPI error in ") + what + ": " + std::string(text, len));
}

Environment::Environment(int& argc, char**& argv) {
  raise_open_files_limit();  // at start-up (CLI and pmap::Session), before MPI opens files
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&provided_);
  } else {
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided_), "MPI_Init_thread");
    owns_ = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided_ < MPI_THREAD_MULTIPLE) {
    throw RuntimeError(
        "the MPI library does not provide MPI_THREAD_MULTIPLE (got level " +
        std::to_string(provided_) +
        "); pmap's dynamic scheduler needs it: use an MPI built with thread support");
  }
}

Environment::~Environment() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

Comm Comm::dup(MPI_Comm parent) {
  MPI_Comm c = MPI_COMM_NULL;
  check(MPI_Comm_dup(parent, &c), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
  return Comm(c);
}

Comm Comm::split_shared(MPI_Comm parent) {
  MPI_Comm c = MPI_COMM_NULL;
  check(MPI_Comm_split_type(parent, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &c),
        "MPI_Comm_split_type");
  return Comm(c);
}

Comm::~Comm() {
  if (comm_ == MPI_COMM_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    Comm tmp(std::move(*this));
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

int Comm::rank() const { return mpi::rank(comm_); }
int Comm::size() const { return mpi::size(comm_); }

int rank(MPI_Comm comm) {
  int r = 0;
  check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
  return r;
}

int size(MPI_Comm comm) {
  int s = 0;
  check(MPI_Comm_size(comm, &s), "MPI_Comm_size");
  return s;
}

void bcast_bytes(MPI_Comm comm, void* data, std::size_t bytes, int root) {
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw RuntimeError("bcast_bytes: " + std::to_string(bytes) +
                       " bytes is more than one MPI_Bcast carries");
  }
  check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm), "MPI_Bcast");
}

std::string bcast_string(MPI_Comm comm, std::string s, int root) {
  s.resize(bcast_value(comm, s.size(), root));
  if (!s.empty()) bcast_bytes(comm, s.data(), s.size(), root);
  return s;
}

void wait_sleeping(MPI_Request& request, MPI_Status* status) {
  auto pause = std::chrono::microseconds(5);
  while (true) {
    int done = 0;
    check(MPI_Test(&request, &done, status != nullptr ? status : MPI_STATUS_IGNORE), "MPI_Test");
    if (done != 0) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

void bcast_sleeping(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibcast(buf, count, type, root, comm, &request), "MPI_Ibcast");
  wait_sleeping(request);
}

namespace {

/// Code, subject, value and detail of an exception; code 0 when there is none.
struct ErrorParts {
  int code = 0;
  std::string packed;  // subject NUL value NUL detail
};

ErrorParts error_parts(const std::exception_ptr& error) {
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {static_cast<int>(e.code()), e.subject() + '\0' + e.value() + '\0' + e.detail()};
  } catch (const std::exception& e) {
    return {static_cast<int>(ExitCode::RunFailed), std::string(2, '\0') + e.what()};
  } catch (...) {
    return {static_cast<int>(ExitCode::RunFailed), std::string(2, '\0') + "unknown exception"};
  }
}

}  // namespace

void agree_on_error(MPI_Comm comm, const std::exception_ptr& error, int root) {
  ErrorParts parts = rank(comm) == root ? error_parts(error) : ErrorParts{};
  bcast_sleeping(&parts.code, 1, MPI_INT, root, comm);
  if (parts.code == 0) return;
  const std::string packed = bcast_string(comm, parts.packed, root);
  const auto end_subject = packed.find('\0');
  const auto end_value = packed.find('\0', end_subject + 1);
  throw_error(static_cast<ExitCode>(parts.code), packed.substr(0, end_subject),
              packed.substr(end_subject + 1, end_value - end_subject - 1),
              packed.substr(end_value + 1));
}

std::string gather_bytes(MPI_Comm comm, const std::string& mine, int root) {
  const int size = mpi::size(comm);
  const bool everywhere = root < 0;
  const bool receives = everywhere || mpi::rank(comm) == root;
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  if (everywhere) {
    check(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  } else {
    check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm), "MPI_Gather");
  }
  std::string all;
  if (receives) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      displs[static_cast<std::size_t>(r)] = total;
      total += counts[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  if (everywhere) {
    check(MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(),
                         MPI_CHAR, comm),
          "MPI_Allgatherv");
  } else {
    check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR,
                      root, comm),
          "MPI_Gatherv");
  }
  return all;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace pmap::mpi
