// Test support for the URL stage: the local HTTP fixture server (tests/support/http_fixture.cpp)
// as a child process, plain GETs of its /stats and /reset routes (through libcurl, not the code
// under test), and the /urls group of a results file read back in full.
//
//   std::string why;
//   auto server = pmap::test::HttpFixture::start(PMAP_HTTP_FIXTURE, {"--garbage-port"}, &why);
//   if (!server) FAIL() << why;
//   const std::string url = server->url("/ok");                    // http://127.0.0.1:PORT/ok
//   const nlohmann::json stats = pmap::test::fixture_stats(*server);
//
// The server is started with posix_spawn; "READY <port>" (and "GARBAGE <port>", and any other
// "KEY value" line before READY: info()) are read from its stdout. Its stdin stays a pipe from this process, so it also exits if the test process dies.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "pmap/h5.hpp"

extern char** environ;  // NOLINT: POSIX

namespace pmap::test {

/// The fixture server as a child process; stopped (and reaped) by the destructor.
class HttpFixture {
 public:
  /// Starts `program` with `args` (e.g. {"--host", "127.0.0.2"}); nullptr (and *why set) when it
  /// does not print READY within 10 s.
  static std::unique_ptr<HttpFixture> start(const std::string& program,
                                            const std::vector<std::string>& args,
                                            std::string* why) {
    using Clock = std::chrono::steady_clock;
    std::array<int, 2> in{};
    std::array<int, 2> out{};
    if (::pipe2(in.data(), O_CLOEXEC) != 0) {
      *why = "pipe2 failed";
      return nullptr;
    }
    if (::pipe2(out.data(), O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      *why = "pipe2 failed";
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<std::string> argv_text{program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int spawned =
        ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (spawned != 0) {
      ::close(in[1]);
      ::close(out[0]);
      *why = "posix_spawn " + program + " failed";
      return nullptr;
    }
    auto server = std::unique_ptr<HttpFixture>(new HttpFixture(pid, in[1]));
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--host") {
        server->host_ =
            args[i + 1].find(':') == std::string::npos ? args[i + 1] : "[" + args[i + 1] + "]";
      }
    }
    std::string text;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (server->port_ == 0) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd readable{out[0], POLLIN, 0};
      if (left <= 0 || ::poll(&readable, 1, static_cast<int>(left)) <= 0) break;
      std::array<char, 256> buffer{};
      const ssize_t n = ::read(out[0], buffer.data(), buffer.size());
      if (n <= 0) break;
      text.append(buffer.data(), static_cast<std::size_t>(n));
      for (std::size_t eol = text.find('\n'); eol != std::string::npos; eol = text.find('\n')) {
        const std::string line = text.substr(0, eol);
        text.erase(0, eol + 1);
        if (const std::size_t space = line.find(' '); space != std::string::npos) {
          server->info_[line.substr(0, space)] = line.substr(space + 1);
        }
        if (line.rfind("GARBAGE ", 0) == 0) server->garbage_port_ = std::stoi(line.substr(8));
        if (line.rfind("READY ", 0) == 0) server->port_ = std::stoi(line.substr(6));
      }
    }
    ::close(out[0]);
    if (server->port_ == 0) {
      *why = "the fixture server " + program + " did not print READY";
      return nullptr;
    }
    return server;
  }

  HttpFixture(const HttpFixture&) = delete;
  HttpFixture& operator=(const HttpFixture&) = delete;
  HttpFixture(HttpFixture&&) = delete;
  HttpFixture& operator=(HttpFixture&&) = delete;

  ~HttpFixture() {
    ::close(stdin_);  // end of file on its stdin: it leaves by itself
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int garbage_port() const { return garbage_port_; }
  /// The value of a "KEY value" line printed before READY ("" if none), e.g. info("READY").
  [[nodiscard]] std::string info(const std::string& key) const {
    const auto found = info_.find(key);
    return found == info_.end() ? std::string() : found->second;
  }
  /// The address it listens on, as a URL host: "127.0.0.1", "127.0.0.2", "[::1]".
  [[nodiscard]] const std::string& host() const { return host_; }
  /// "http://HOST:PORT" + path; HOST is host() unless given (e.g. "localhost").
  [[nodiscard]] std::string url(std::string_view path, std::string_view host = {}) const {
    return base(host.empty() ? std::string_view(host_) : host, port_) + std::string(path);
  }
  /// "http://HOST:PORT".
  static std::string base(std::string_view host, int port) {
    return "http://" + std::string(host) + ":" + std::to_string(port);
  }

 private:
  HttpFixture(pid_t pid, int stdin_fd) : pid_(pid), stdin_(stdin_fd) {}

  pid_t pid_;
  int stdin_;
  int port_ = 0;
  int garbage_port_ = 0;
  std::map<std::string, std::string> info_;
  std::string host_ = "127.0.0.1";
};

/// A plain GET (5 s timeout, no proxy) returning the body; throws on a transport failure.
inline std::string http_get(const std::string& url) {
  static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (initialised != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  struct Cleanup {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
  };
  const std::unique_ptr<CURL, Cleanup> easy(curl_easy_init());
  if (!easy) throw std::runtime_error("curl_easy_init failed");
  std::string body;
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(
      easy.get(), CURLOPT_WRITEFUNCTION,
      +[](char* data, std::size_t size, std::size_t count, void* sink) {
        static_cast<std::string*>(sink)->append(data, size * count);
        return size * count;
      });
  const CURLcode code = curl_easy_perform(easy.get());
  if (code != CURLE_OK) {
    throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(code));
  }
  return body;
}

/// The fixture's counters: requests, connections, in_flight, max_concurrent,
/// max_concurrent_by_host {"HOST:PORT": n}, requests_by_path {"/path": n}, requests_by_method.
inline nlohmann::json fixture_stats(const HttpFixture& server, std::string_view host = {}) {
  return nlohmann::json::parse(http_get(server.url("/stats", host)));
}

/// Polls the fixture's counter `key` (e.g. "requests", "in_flight") every 20 ms until it
/// reaches `at_least` or `timeout` has passed; returns the last value read.
inline int fixture_wait(const HttpFixture& server, const char* key, int at_least,
                        std::chrono::seconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  int value = 0;
  while (std::chrono::steady_clock::now() < until && value < at_least) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    value = fixture_stats(server)[key].get<int>();
  }
  return value;
}

/// Clears the fixture's counters (and its /retry-after and /flaky memories).
inline void fixture_reset(const HttpFixture& server, std::string_view host = {}) {
  http_get(server.url("/reset", host));
}

/// Every row of /urls (DESIGN.md schema), in file order.
struct UrlRows {
  std::vector<std::string> url, error, final_url;
  std::vector<std::int8_t> verdict;  ///< raw enum values: 0 exists, 1 does_not_exist, 2 unknown, -1
  std::vector<std::int32_t> http_status, attempts;
  std::vector<double> seconds;
  [[nodiscard]] std::size_t size() const { return verdict.size(); }
};

/// Fixed-length string dataset `name` (throws if it is variable-length or not a string).
inline std::vector<std::string> read_fixed_strings(hid_t file, const std::string& name) {
  h5::Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "open " + name);
  h5::Handle type(H5Dget_type(d.get()), "type of " + name);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
    throw std::runtime_error(name + " is not a fixed-length string dataset");
  }
  const std::size_t len = H5Tget_size(type.get());
  h5::Handle space(H5Dget_space(d.get()), "space of " + name);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  std::string buffer(n * len, '\0');
  if (n > 0) {
    h5::check(H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
              "read " + name);
  }
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::string s = buffer.substr(i * len, len);
    s.erase(s.find_last_not_of('\0') + 1);  // NULLPAD (or NULLTERM) padding
    out.push_back(std::move(s));
  }
  return out;
}

/// Dataset `name` converted to the native type `mem` (use the file type for enums).
template <typename T>
std::vector<T> read_numbers(hid_t file, const std::string& name, hid_t mem) {
  h5::Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "open " + name);
  h5::Handle space(H5Dget_space(d.get()), "space of " + name);
  std::vector<T> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  if (!out.empty()) {
    h5::check(H5Dread(d.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name);
  }
  return out;
}

/// /urls of `path`, every column (serial HDF5).
inline UrlRows read_url_rows(const std::string& path) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  UrlRows rows;
  rows.url = read_fixed_strings(file.get(), "/urls/url");
  rows.error = read_fixed_strings(file.get(), "/urls/error");
  rows.final_url = read_fixed_strings(file.get(), "/urls/final_url");
  {
    // An enum converts only to an enum: read it with its own (1-byte, native) type.
    h5::Handle d(H5Dopen2(file.get(), "/urls/verdict", H5P_DEFAULT), "open /urls/verdict");
    h5::Handle type(H5Dget_type(d.get()), "type of /urls/verdict");
    if (H5Tget_class(type.get()) != H5T_ENUM || H5Tget_size(type.get()) != 1) {
      throw std::runtime_error("/urls/verdict is not a 1-byte enum");
    }
    h5::Handle native(H5Tget_native_type(type.get(), H5T_DIR_DEFAULT), "native verdict type");
    rows.verdict = read_numbers<std::int8_t>(file.get(), "/urls/verdict", native.get());
  }
  rows.http_status = read_numbers<std::int32_t>(file.get(), "/urls/http_status", H5T_NATIVE_INT32);
  rows.attempts = read_numbers<std::int32_t>(file.get(), "/urls/attempts", H5T_NATIVE_INT32);
  rows.seconds = read_numbers<double>(file.get(), "/urls/seconds", H5T_NATIVE_DOUBLE);
  return rows;
}

}  // namespace pmap::test
