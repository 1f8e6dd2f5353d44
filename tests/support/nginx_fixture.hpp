// Test support for the URL stage: a real nginx (tests/support/nginx_fixture.sh) as a child
// process, on 127.0.0.1 .. 127.0.0.50, with a TLS test CA made for the test, and its access log.
//
//   std::string why;
//   auto nginx = pmap::test::NginxServer::start(PMAP_NGINX_FIXTURE, &why);
//   if (!nginx) GTEST_SKIP() << why;  // (FAIL when nginx is installed but did not start)
//   options.cacert = nginx->ca();
//   const std::string url = nginx->url(NginxServer::Port::Https2, 7, "/page.html");
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_fixture_process.hpp"

namespace pmap::test {

/// One line of the fixture's access log.
struct NginxLogLine {
  std::string address;   ///< server address, "127.0.0.7"
  int port = 0;          ///< server port
  std::string protocol;  ///< "HTTP/1.1", "HTTP/2.0"
  long connection = 0;   ///< nginx's connection serial number
  long on_connection = 0;  ///< requests made on that connection so far
  bool reused_session = false;  ///< TLS session resumed
  int status = 0;
  std::string uri;  ///< as requested (percent-encoding kept)
};

/// The nginx fixture; stopped (and its temp dir removed) by the destructor.
class NginxServer {
 public:
  enum class Port { Http, Https1, Https2, Closed };

  /// Why nginx cannot be used here (not installed: the caller skips), or "" when it can.
  static std::string missing_tools() {
    for (const char* tool : {"nginx", "openssl"}) {
      if (!on_path(tool)) {
        return std::string(tool) + " is not installed (scripts/setup.sh installs nginx-light " +
               "and openssl): the nginx tests are skipped";
      }
    }
    return {};
  }

  /// nullptr (and *why) when nginx did not start. `keepalive_requests` > 0 ends every
  /// connection after that many requests (nginx's default: 1,000), HTTP/2 ones with a GOAWAY.
  static std::unique_ptr<NginxServer> start(const std::string& script, std::string* why,
                                            int keepalive_requests = 0) {
    if (keepalive_requests > 0) {  // read by the script; the test process is single-threaded here
      ::setenv("KEEPALIVE_REQUESTS", std::to_string(keepalive_requests).c_str(), 1);
    }
    auto process = HttpFixture::start(script, {}, why);
    ::unsetenv("KEEPALIVE_REQUESTS");
    if (!process) return nullptr;
    return std::unique_ptr<NginxServer>(new NginxServer(std::move(process)));
  }

  /// "scheme://127.0.0.HOST:PORT" + path (https for the TLS ports and Closed).
  [[nodiscard]] std::string url(Port port, int host, std::string_view path) const {
    return base(port, "127.0.0." + std::to_string(host)) + std::string(path);
  }
  /// "scheme://NAME:PORT" for a host name ("localhost", "bücher.localhost").
  [[nodiscard]] std::string base(Port port, const std::string& name) const {
    const bool tls = port != Port::Http;
    return std::string(tls ? "https://" : "http://") + name + ":" + std::to_string(number(port));
  }
  [[nodiscard]] int number(Port port) const {
    switch (port) {
      case Port::Http:
        return std::stoi(process_->info("HTTP"));
      case Port::Https1:
        return std::stoi(process_->info("HTTPS1"));
      case Port::Https2:
        return std::stoi(process_->info("HTTPS2"));
      case Port::Closed:
        break;
    }
    return std::stoi(process_->info("CLOSED"));
  }
  [[nodiscard]] int hosts() const { return std::stoi(process_->info("HOSTS")); }
  /// The test CA (PEM) and a directory holding it by hash.
  [[nodiscard]] std::string ca() const { return process_->info("CA"); }
  [[nodiscard]] std::string capath() const { return process_->info("CAPATH"); }
  [[nodiscard]] std::string dir() const { return process_->info("DIR"); }

  /// Every request logged so far.
  [[nodiscard]] std::vector<NginxLogLine> log() const {
    std::vector<NginxLogLine> lines;
    std::ifstream in(process_->info("LOG"));
    for (std::string text; std::getline(in, text);) {
      std::istringstream fields(text);
      NginxLogLine line;
      std::string reused;
      fields >> line.address >> line.port >> line.protocol >> line.connection >>
          line.on_connection >> reused >> line.status >> line.uri;
      line.reused_session = reused == "r";
      lines.push_back(std::move(line));
    }
    return lines;
  }
  /// Empties the access log (nginx appends: the next request starts it again).
  void clear_log() const { std::ofstream(process_->info("LOG"), std::ios::trunc); }

 private:
  explicit NginxServer(std::unique_ptr<HttpFixture> process) : process_(std::move(process)) {}

  static bool on_path(const std::string& tool) {
    std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin";
    std::istringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
    }
    return false;
  }

  std::unique_ptr<HttpFixture> process_;
};

}  // namespace pmap::test
