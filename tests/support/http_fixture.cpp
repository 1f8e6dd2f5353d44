// pmap_http_fixture — a local HTTP/1.1 server for the URL-stage tests.
//
// One thread, one epoll loop: hanging, dripping, delayed and 1 GiB responses cost no thread
// each. Every deadline (delays, hangs, drips) is an entry in a min-heap, and one timerfd in the
// epoll set is armed at the earliest: a loop turn costs O(log n) per timer, not a scan of every
// connection, and delays are served to the microsecond, not rounded up to epoll's milliseconds.
//
// Usage: pmap_http_fixture [--host 127.0.0.1|::1|127.x.y.z] [--also-host ADDR]... [--port 0]
//                          [--delay-ms N] [--anchor-routes] [--hang S] [--max-seconds 600]
//                          [--garbage-port]
// Prints "GARBAGE <port>" (with --garbage-port) then "READY <port>" once listening. Exits on
// SIGTERM/SIGINT, when stdin reaches end of file, or after --max-seconds. Binds loopback only.
// --also-host ADDR (repeatable) listens on the same port on another loopback address as well,
// so one server answers under several host names (pmap shards URLs across ranks by host).
// The soft limit on open files is raised to the hard limit, and the listen backlog is 4096.
//
// Routes (GET and HEAD): /ok 200, /missing 404, /error 500, /status/N, /redirect/N (N hops of
// 301, then /ok), /loop, /to-ftp, /hang, /drip (60 body bytes, one a second), /endless/N
// (status N, then a chunked body that never ends), /to-endless (302 to /endless/200),
// /retry-after/KEY, /flaky/KEY/K, /nohead, /big, /delay/MS, /stats (JSON), /reset. Anything else
// is 404. --delay-ms N holds every answer but
// /stats, /reset, /hang, /drip and /big back by N ms (/delay/MS by MS + N).
//
// --anchor-routes: the paths of the anchor benchmark (../shared/bench/make_urls.py) behave as
// its url_server.py serves them, every answer after --delay-ms:
//   /ok/N 200, /missing/N 404, /error/N 500, /redirect/N 301 to /ok/N (one hop),
//   /hang/N silent for --hang seconds (default 30), then 200; the client may leave earlier.
// N is any one path segment. They count in /stats as "/ok/N", "/missing/N", ... so /stats stays
// small for a million distinct URLs. Without the option these paths keep their meaning above.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t max_header_bytes = std::size_t{64} * 1024;
constexpr std::uint64_t big_body_bytes = 1ULL << 30;
constexpr int drip_bytes = 60;
constexpr auto hang_limit = 60s;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pmap_http_fixture: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

/// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Options {
  std::string host = "127.0.0.1";
  std::vector<std::string> also_hosts;  // more loopback addresses on the same port
  int port = 0;
  int delay_ms = 0;
  double max_seconds = 600;
  bool garbage = false;
  bool anchor_routes = false;  // /ok/N, /missing/N, /error/N, /redirect/N, /hang/N as url_server.py
  long long hang_seconds = 30;  // silence of an anchor /hang/N
};

std::optional<long long> to_number(std::string_view text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "pmap_http_fixture: %s needs a value\n", std::string(args[i]).c_str());
        std::exit(2);
      }
      return args[++i];
    };
    const auto number = [&](std::string_view name) {
      const auto parsed = to_number(value());
      if (!parsed || *parsed < 0) {
        std::fprintf(stderr, "pmap_http_fixture: %s needs a non-negative integer\n",
                     std::string(name).c_str());
        std::exit(2);
      }
      return *parsed;
    };
    if (args[i] == "--host") {
      options.host = value();
    } else if (args[i] == "--also-host") {
      options.also_hosts.emplace_back(value());
    } else if (args[i] == "--anchor-routes") {
      options.anchor_routes = true;
    } else if (args[i] == "--hang") {
      options.hang_seconds = number("--hang");
    } else if (args[i] == "--port") {
      options.port = static_cast<int>(number("--port"));
    } else if (args[i] == "--delay-ms") {
      options.delay_ms = static_cast<int>(number("--delay-ms"));
    } else if (args[i] == "--max-seconds") {
      options.max_seconds = static_cast<double>(number("--max-seconds"));
    } else if (args[i] == "--garbage-port") {
      options.garbage = true;
    } else {
      std::fprintf(stderr,
                   "usage: pmap_http_fixture [--host ADDR] [--also-host ADDR]... [--port N] "
                   "[--delay-ms N] [--anchor-routes] [--hang S] [--max-seconds N] "
                   "[--garbage-port]\n");
      std::exit(2);
    }
  }
  return options;
}

/// A non-blocking listening socket on a loopback address; port 0 picks a free one.
Fd listen_on(const std::string& host, int port, int* bound_port) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) {
      std::fprintf(stderr, "pmap_http_fixture: %s is not a loopback address\n", host.c_str());
      std::exit(2);
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
      std::fprintf(stderr, "pmap_http_fixture: %s is not a loopback address\n", host.c_str());
      std::exit(2);
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "pmap_http_fixture: --host needs a numeric loopback address\n");
    std::exit(2);
  }
  Fd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) die("socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.ss_family == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) die("bind " + host);
  // The kernel caps the backlog at net.core.somaxconn (4096 by default since Linux 5.4): a burst
  // of 1,000 clients connecting at once must not stall in SYN retransmits.
  if (::listen(fd.get(), 4096) != 0) die("listen");
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    die("getsockname");
  }
  *bound_port = ntohs(address.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      std::array<char, 8> escaped{};
      std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
      out += escaped.data();
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <typename Map>
std::string json_object(const Map& map) {
  std::string out = "{";
  for (const auto& [key, value] : map) {
    if (out.size() > 1) out += ", ";
    out += json_string(key) + ": " + std::to_string(value);
  }
  return out + "}";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lx = (x >= 'A' && x <= 'Z') ? x - 'A' + 'a' : x;
           const auto ly = (y >= 'A' && y <= 'Z') ? y - 'A' + 'a' : y;
           return lx == ly;
         });
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

/// What a connection is doing.
enum class Phase {
  Reading,  // waiting for (the rest of) a request
  Waiting,  // response ready, held back until `deadline` (delays)
  Writing,  // flushing `out`; the request is over once it is empty
  Big,      // streaming zeros
  Drip,     // one byte (or chunk) of the body a second
  Hang,     // no answer until the client leaves or the deadline
};

struct Connection {
  Fd fd;
  bool garbage = false;
  Phase phase = Phase::Reading;
  std::string in;
  std::string out;
  std::size_t out_offset = 0;
  std::string held;  // response sent when a Waiting connection's deadline passes
  Clock::time_point deadline{};
  std::uint64_t timer = 0;  // token of the heap entry for `deadline` (0: none)
  std::uint64_t big_left = 0;
  int drip_left = 0;
  std::string drip_unit = "x";  // what each drip tick sends ("1\r\nx\r\n" for chunked bodies)
  bool close_after = false;
  bool counted = false;  // this request counts toward in-flight concurrency
  std::string host_key;
  std::uint32_t events = 0;
};

class Server {
 public:
  explicit Server(Options options) : options_(std::move(options)) {}

  int run() {
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (epoll_.get() < 0) die("epoll_create1");

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) die("sigprocmask");
    signals_ = Fd(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
    if (signals_.get() < 0) die("signalfd");
    ::signal(SIGPIPE, SIG_IGN);
    watch(signals_.get(), EPOLLIN);
    // stdin: end of file means our parent is gone. Not pollable (e.g. /dev/null): not watched.
    epoll_event stdin_event{};
    stdin_event.events = EPOLLIN;
    stdin_event.data.fd = STDIN_FILENO;
    stdin_watched_ = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, STDIN_FILENO, &stdin_event) == 0;

    raise_open_file_limit();
    timer_ = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (timer_.get() < 0) die("timerfd_create");
    watch(timer_.get(), EPOLLIN);

    int port = 0;
    listeners_.push_back(listen_on(options_.host, options_.port, &port));
    for (const auto& host : options_.also_hosts) {
      int same = 0;
      listeners_.push_back(listen_on(host, port, &same));
    }
    for (const auto& listener : listeners_) watch(listener.get(), EPOLLIN);
    if (options_.garbage) {
      int garbage_port = 0;
      garbage_listener_ = listen_on(options_.host, 0, &garbage_port);
      watch(garbage_listener_.get(), EPOLLIN);
      std::printf("GARBAGE %d\n", garbage_port);
    }
    std::printf("READY %d\n", port);
    std::fflush(stdout);

    const auto end_of_life =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(options_.max_seconds));
    std::array<epoll_event, 256> events{};
    while (!quit_) {
      const auto now = Clock::now();
      if (now >= end_of_life) break;
      arm_timer();  // deadlines wake us through the timerfd; the timeout only checks end of life
      const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(end_of_life - now).count();
      const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(std::clamp<long long>(wait_ms, 0, 1000)));
      if (ready < 0 && errno != EINTR) die("epoll_wait");
      for (int i = 0; i < ready; ++i) dispatch(events[static_cast<std::size_t>(i)]);
      expire_deadlines();
    }
    return 0;
  }

 private:
  /// A pending deadline of a connection, in the min-heap `timers_`. Entries are never removed
  /// early: one whose token no longer matches its connection's (closed, answered, re-armed) is
  /// skipped when it comes out.
  struct Timer {
    Clock::time_point when;
    std::uint64_t token;
    int fd;
  };
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const noexcept { return a.when > b.when; }
  };

  static bool has_deadline(const Connection& c) {
    return c.phase == Phase::Waiting || c.phase == Phase::Drip || c.phase == Phase::Hang;
  }

  void set_deadline(Connection& c, Clock::time_point when) {
    c.deadline = when;
    c.timer = ++timer_tokens_;
    timers_.push(Timer{when, c.timer, c.fd.get()});
  }

  /// Points the timerfd at the earliest deadline (absolute CLOCK_MONOTONIC, which is what
  /// steady_clock reads on Linux), or disarms it.
  void arm_timer() {
    const auto next = timers_.empty() ? Clock::time_point::max() : timers_.top().when;
    if (next == armed_) return;
    itimerspec spec{};
    if (next != Clock::time_point::max()) {
      const auto since = std::max<Clock::duration>(next.time_since_epoch(), 1ns);
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
      spec.it_value.tv_sec = static_cast<time_t>(secs.count());
      spec.it_value.tv_nsec = static_cast<long>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count());
    }
    if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
      die("timerfd_settime");
    }
    armed_ = next;
  }

  /// Many clients at once need many descriptors: take what the hard limit allows.
  static void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
  }

  void watch(int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) die("epoll_ctl add");
  }

  void dispatch(const epoll_event& event) {
    const int fd = event.data.fd;
    if (fd == signals_.get()) {
      quit_ = true;
      return;
    }
    if (stdin_watched_ && fd == STDIN_FILENO) {
      std::array<char, 256> sink{};
      const ssize_t n = ::read(STDIN_FILENO, sink.data(), sink.size());
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) quit_ = true;
      return;
    }
    if (fd == timer_.get()) {
      std::uint64_t expirations = 0;
      if (::read(fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("read timerfd");
      armed_ = Clock::time_point::max();  // a one-shot timer that fired is disarmed
      return;                             // expire_deadlines() runs after every batch
    }
    if (fd == garbage_listener_.get()) {
      accept_all(fd, true);
      return;
    }
    for (const auto& listener : listeners_) {
      if (fd == listener.get()) {
        accept_all(fd, false);
        return;
      }
    }
    const auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    Connection& c = *found->second;
    if ((event.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !read_from(c)) {
      close_connection(fd);
      return;
    }
    if (!pump(c)) close_connection(fd);
  }

  void accept_all(int listener, bool garbage) {
    for (;;) {
      Fd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (fd.get() < 0) return;  // EAGAIN, or a transient error: wait for the next event
      auto connection = std::make_unique<Connection>();
      connection->garbage = garbage;
      const int raw = fd.get();
      connection->fd = std::move(fd);
      connection->events = EPOLLIN | EPOLLRDHUP;
      watch(raw, connection->events);
      connections_[raw] = std::move(connection);
      if (!garbage) ++stats_connections_;
    }
  }

  /// Reads what is there; false when the peer has gone.
  bool read_from(Connection& c) {
    std::array<char, std::size_t{16} * 1024> buffer{};
    for (;;) {
      const ssize_t n = ::recv(c.fd.get(), buffer.data(), buffer.size(), 0);
      if (n > 0) {
        if (c.in.size() < 2 * max_header_bytes)
          c.in.append(buffer.data(), static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) return false;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
  }

  /// Moves a connection along as far as it can go now; false to close it.
  bool pump(Connection& c) {
    for (;;) {
      if (c.phase == Phase::Reading) {
        if (c.garbage) {
          if (c.in.empty()) break;
          static constexpr char garbage[] = "\x16\x03garbage\x00\xff\xfe not HTTP at all\r\n\r\n";
          c.out.assign(garbage, sizeof garbage - 1);
          c.close_after = true;
          c.phase = Phase::Writing;
        } else if (!parse_request(c)) {
          break;
        }
      }
      if (c.phase == Phase::Big && c.out_offset == c.out.size() && c.big_left > 0) {
        static const std::string zeros(std::size_t{256} * 1024, '\0');
        const auto chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(c.big_left, zeros.size()));
        c.out.assign(zeros, 0, chunk);
        c.out_offset = 0;
        c.big_left -= chunk;
      }
      if (!flush(c)) return false;
      if (c.out_offset < c.out.size()) break;  // socket full: wait for EPOLLOUT
      const bool finished = c.phase == Phase::Writing ||
                            (c.phase == Phase::Big && c.big_left == 0) ||
                            (c.phase == Phase::Drip && c.drip_left == 0);
      if (!finished) break;  // Waiting, Hang, Drip or more Big to come
      end_request(c);
      if (c.close_after) return false;
      c.phase = Phase::Reading;
      if (c.in.empty()) break;
    }
    update_events(c);
    return true;
  }

  /// Writes pending output; false when the peer has gone.
  static bool flush(Connection& c) {
    while (c.out_offset < c.out.size()) {
      const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                               MSG_NOSIGNAL);
      if (n > 0) {
        c.out_offset += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    c.out.clear();
    c.out_offset = 0;
    return true;
  }

  void update_events(Connection& c) {
    const bool wants_out = c.out_offset < c.out.size() || (c.phase == Phase::Big && c.big_left > 0);
    const std::uint32_t events = EPOLLIN | EPOLLRDHUP | (wants_out ? EPOLLOUT : 0U);
    if (events == c.events) return;
    epoll_event event{};
    event.events = events;
    event.data.fd = c.fd.get();
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &event) != 0) die("epoll_ctl mod");
    c.events = events;
  }

  void begin_counting(Connection& c, std::string host) {
    c.counted = true;
    c.host_key = std::move(host);
    const int now = ++in_flight_by_host_[c.host_key];
    int& max = max_by_host_[c.host_key];
    max = std::max(max, now);
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
  }

  void end_request(Connection& c) {
    if (!c.counted) return;
    c.counted = false;
    --in_flight_by_host_[c.host_key];
    --in_flight_;
  }

  void close_connection(int fd) {
    const auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    end_request(*found->second);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    connections_.erase(found);  // closes the socket
  }

  /// Acts on every deadline that has passed, earliest first.
  void expire_deadlines() {
    const auto now = Clock::now();
    while (!timers_.empty() && timers_.top().when <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      const auto found = connections_.find(timer.fd);
      if (found == connections_.end()) continue;
      Connection& c = *found->second;
      if (c.timer != timer.token || !has_deadline(c)) continue;  // stale entry
      c.timer = 0;
      if (c.phase == Phase::Hang) {
        close_connection(timer.fd);
        continue;
      }
      if (c.phase == Phase::Waiting) {
        c.out = std::move(c.held);
        c.held.clear();
        c.out_offset = 0;
        c.phase = Phase::Writing;
      } else {  // Drip
        c.out += c.drip_unit;
        --c.drip_left;
        set_deadline(c, now + 1s);
      }
      if (!pump(c)) close_connection(timer.fd);
    }
  }

  static std::string response(int status, std::string_view body, bool head,
                              const std::vector<std::string>& extra_headers, bool close) {
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    const bool bodiless = status == 204 || status == 304;
    if (!bodiless) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& header : extra_headers) out += header + "\r\n";
    out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    if (!head && !bodiless) out += body;
    return out;
  }

  /// Parses one request from c.in and sets up its answer; false if the request is incomplete.
  bool parse_request(Connection& c) {
    const std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > max_header_bytes) {
        c.out = response(431, "", false, {}, true);
        c.close_after = true;
        c.phase = Phase::Writing;
        return true;
      }
      return false;
    }
    const std::string head = c.in.substr(0, end);
    c.in.erase(0, end + 4);

    std::string_view rest(head);
    const std::size_t line_end = rest.find("\r\n");
    const std::string_view request_line = rest.substr(0, line_end);
    rest = line_end == std::string_view::npos ? std::string_view() : rest.substr(line_end + 2);
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) {
      c.out = response(400, "bad request\n", false, {}, true);
      c.close_after = true;
      c.phase = Phase::Writing;
      return true;
    }
    const std::string method(request_line.substr(0, sp1));
    const std::string target(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    const std::string_view version = request_line.substr(sp2 + 1);
    std::string host;
    bool close = version != "HTTP/1.1";
    while (!rest.empty()) {
      const std::size_t eol = rest.find("\r\n");
      const std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view name = line.substr(0, colon);
      const std::string value = trim(line.substr(colon + 1));
      if (iequals(name, "host")) host = value;
      if (iequals(name, "connection") && iequals(value, "close")) close = true;
    }
    c.close_after = close;
    route(c, method, target, host);
    return true;
  }

  void route(Connection& c, const std::string& method, const std::string& target,
             std::string host) {
    const std::string path = target.substr(0, target.find('?'));
    const bool head = method == "HEAD";
    const auto reply = [&](int status, std::string_view body,
                           const std::vector<std::string>& headers = {}) {
      c.held = response(status, body, head, headers, c.close_after);
      c.out_offset = 0;
      if (options_.delay_ms > 0) {
        c.phase = Phase::Waiting;
        set_deadline(c, Clock::now() + std::chrono::milliseconds(options_.delay_ms));
      } else {
        c.out = std::move(c.held);
        c.held.clear();
        c.phase = Phase::Writing;
      }
    };

    if (path == "/stats") {
      std::string body =
          "{\"requests\": " + std::to_string(stats_requests_) +
          ", \"connections\": " + std::to_string(stats_connections_) +
          ", \"in_flight\": " + std::to_string(in_flight_) +
          ", \"max_concurrent\": " + std::to_string(max_in_flight_) +
          ", \"max_concurrent_by_host\": " + json_object(max_by_host_) +
          ", \"requests_by_path\": " + json_object(requests_by_path_) +
          ", \"requests_by_method\": " + json_object(requests_by_method_) +
          ", \"open_connections\": " + std::to_string(connections_.size()) +
          ", \"cpu_seconds\": " + std::to_string(cpu_seconds()) + ", \"uptime_seconds\": " +
          std::to_string(std::chrono::duration<double>(Clock::now() - started_).count()) + "}\n";
      c.out = response(200, body, head, {"Content-Type: application/json"}, c.close_after);
      c.phase = Phase::Writing;
      return;
    }
    if (path == "/reset") {
      stats_requests_ = 0;
      stats_connections_ = 0;
      max_in_flight_ = in_flight_;
      max_by_host_.clear();
      for (const auto& [key, value] : in_flight_by_host_) {
        if (value > 0) max_by_host_[key] = value;
      }
      requests_by_path_.clear();
      requests_by_method_.clear();
      keyed_counts_.clear();
      c.out = response(200, "reset\n", head, {}, c.close_after);
      c.phase = Phase::Writing;
      return;
    }

    const auto parts = split(path);
    const auto arg_number = [&](std::size_t i) -> std::optional<long long> {
      return i < parts.size() ? to_number(parts[i]) : std::nullopt;
    };
    const std::string_view first = parts.empty() ? std::string_view() : parts[0];
    const bool anchor = options_.anchor_routes && parts.size() == 2 &&
                        (first == "ok" || first == "missing" || first == "error" ||
                         first == "redirect" || first == "hang");

    ++stats_requests_;
    ++requests_by_path_[anchor ? "/" + std::string(first) + "/N" : path];
    ++requests_by_method_[method];
    begin_counting(c, std::move(host));

    if (method != "GET" && method != "HEAD") {
      reply(405, "method not allowed\n", {"Allow: GET, HEAD"});
      return;
    }
    if (anchor) {  // as ../shared/bench/url_server.py answers them
      if (first == "ok") {
        reply(200, "exists\n");
      } else if (first == "missing") {
        reply(404, "not found\n");
      } else if (first == "error") {
        reply(500, "server error\n");
      } else if (first == "redirect") {
        reply(301, "", {"Location: /ok/" + std::string(parts[1])});
      } else {  // hang: silent for --hang seconds, then 200; a client that leaves is closed
        c.held = response(200, "finally\n", head, {}, c.close_after);
        c.out_offset = 0;
        c.phase = Phase::Waiting;
        set_deadline(c, Clock::now() + std::chrono::seconds(options_.hang_seconds));
      }
      return;
    }

    if (path == "/ok") {
      reply(200, "ok\n");
    } else if (path == "/missing") {
      reply(404, "missing\n");
    } else if (path == "/error") {
      reply(500, "error\n");
    } else if (first == "status" && parts.size() == 2) {
      const auto status = arg_number(1);
      if (status && *status >= 200 && *status <= 599) {
        reply(static_cast<int>(*status), "status " + std::to_string(*status) + "\n");
      } else {
        reply(400, "status must be 200..599\n");
      }
    } else if (first == "redirect" && parts.size() == 2 && arg_number(1)) {
      const long long hops = *arg_number(1);
      reply(301, "moved\n",
            {"Location: " +
             (hops <= 1 ? std::string("/ok") : "/redirect/" + std::to_string(hops - 1))});
    } else if (path == "/loop") {
      reply(301, "moved\n", {"Location: /loop"});
    } else if (path == "/to-ftp") {
      reply(301, "moved\n", {"Location: ftp://127.0.0.1/x"});
    } else if (path == "/hang") {
      c.phase = Phase::Hang;
      set_deadline(c, Clock::now() + hang_limit);
    } else if (path == "/drip") {
      c.out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(drip_bytes) + "\r\n\r\n";
      c.out_offset = 0;
      if (head) {
        c.phase = Phase::Writing;
      } else {
        c.phase = Phase::Drip;
        c.drip_left = drip_bytes;
        c.drip_unit = "x";
        set_deadline(c, Clock::now() + 1s);
      }
    } else if (first == "endless" && parts.size() == 2 && arg_number(1)) {
      // Status N, headers at once, then a chunked body that never ends (a chunk a second).
      const auto status = static_cast<int>(std::clamp(*arg_number(1), 200LL, 599LL));
      c.out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
              "\r\nTransfer-Encoding: chunked\r\n\r\n";
      c.out_offset = 0;
      if (head) {
        c.out += "0\r\n\r\n";
        c.phase = Phase::Writing;
      } else {
        c.phase = Phase::Drip;
        c.drip_left = std::numeric_limits<int>::max();
        c.drip_unit = "1\r\nx\r\n";
        set_deadline(c, Clock::now() + 1s);
      }
    } else if (path == "/to-endless") {
      reply(302, "found\n", {"Location: /endless/200"});
    } else if (first == "retry-after" && parts.size() == 2) {
      if (keyed_counts_[path]++ == 0) {
        reply(429, "slow down\n", {"Retry-After: 1"});
      } else {
        reply(200, "ok\n");
      }
    } else if (first == "flaky" && parts.size() == 3 && arg_number(2)) {
      const std::string key = "/flaky/" + std::string(parts[1]);
      if (keyed_counts_[key]++ < *arg_number(2)) {
        reply(503, "unavailable\n");
      } else {
        reply(200, "ok\n");
      }
    } else if (path == "/nohead") {
      if (head) {
        reply(405, "", {"Allow: GET"});
      } else {
        reply(200, "ok\n");
      }
    } else if (path == "/big") {
      c.out = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
              std::to_string(big_body_bytes) + "\r\n\r\n";
      c.out_offset = 0;
      c.phase = head ? Phase::Writing : Phase::Big;
      c.big_left = head ? 0 : big_body_bytes;
    } else if (first == "delay" && parts.size() == 2 && arg_number(1)) {
      c.held = response(200, "ok\n", head, {}, c.close_after);
      c.out_offset = 0;
      c.phase = Phase::Waiting;
      set_deadline(c, Clock::now() + std::chrono::milliseconds(*arg_number(1) + options_.delay_ms));
    } else {
      reply(404, "no such route\n");
    }
  }

  static std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    while (!path.empty()) {
      if (path.front() == '/') {
        path.remove_prefix(1);
        continue;
      }
      const std::size_t slash = path.find('/');
      parts.push_back(path.substr(0, slash));
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    return parts;
  }

  /// User + system CPU time of this process so far: with uptime_seconds in /stats, how busy the
  /// server was over a run (1.0 = its one thread saturated).
  static double cpu_seconds() {
    rusage usage{};
    if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    const auto seconds = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }

  Options options_;
  Clock::time_point started_ = Clock::now();
  Fd epoll_;
  Fd signals_;
  Fd timer_;
  std::vector<Fd> listeners_;
  Fd garbage_listener_;
  std::priority_queue<Timer, std::vector<Timer>, Later> timers_;
  std::uint64_t timer_tokens_ = 0;
  Clock::time_point armed_ = Clock::time_point::max();
  bool stdin_watched_ = false;
  bool quit_ = false;
  std::map<int, std::unique_ptr<Connection>> connections_;

  long long stats_requests_ = 0;
  long long stats_connections_ = 0;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::map<std::string, int> in_flight_by_host_;
  std::map<std::string, int> max_by_host_;
  std::map<std::string, long long> requests_by_path_;
  std::map<std::string, long long> requests_by_method_;
  std::map<std::string, long long> keyed_counts_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    Server server(parse_options(argc, argv));
    return server.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pmap_http_fixture: %s\n", error.what());
    return 2;
  }
}
