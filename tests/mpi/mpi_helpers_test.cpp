// The checked MPI helpers at any rank count: bcast_value gives every rank the root's value, and
// agree_on_error throws the root's error on every rank with its type, exit code and subject
// (the CLI turns the subject into its flag, so it must survive the trip).
#include <gtest/gtest.h>
#include <mpi.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "pmap/error.hpp"
#include "pmap/mpi.hpp"

namespace {

int rank() { return pmap::mpi::rank(MPI_COMM_WORLD); }
int size() { return pmap::mpi::size(MPI_COMM_WORLD); }

/// What agree_on_error threw on this rank when the root held `error` (nothing: empty code).
struct Thrown {
  bool usage = false, runtime = false;
  int code = 0;
  std::string subject, value, detail, what;
};

Thrown agree(const std::exception_ptr& error, int root) {
  Thrown t;
  try {
    pmap::mpi::agree_on_error(MPI_COMM_WORLD, rank() == root ? error : nullptr, root);
  } catch (const pmap::Error& e) {
    t.usage = dynamic_cast<const pmap::UsageError*>(&e) != nullptr;
    t.runtime = dynamic_cast<const pmap::RuntimeError*>(&e) != nullptr;
    t.code = static_cast<int>(e.code());
    t.subject = e.subject();
    t.value = e.value();
    t.detail = e.detail();
    t.what = e.what();
  }
  return t;
}

TEST(MpiHelpers, BcastValueGivesEveryRankTheRootsValue) {
  const int root = size() - 1;
  const double got = pmap::mpi::bcast_value(MPI_COMM_WORLD, rank() == root ? 2.5 : -1.0, root);
  EXPECT_EQ(got, 2.5) << "rank " << rank();
  struct Pair {
    int a;
    long long b;
  };
  const Pair p = pmap::mpi::bcast_value(MPI_COMM_WORLD, rank() == 0 ? Pair{7, 1LL << 40} : Pair{});
  EXPECT_EQ(p.a, 7);
  EXPECT_EQ(p.b, 1LL << 40);
  EXPECT_EQ(pmap::mpi::bcast_string(MPI_COMM_WORLD, rank() == 0 ? "abc" : ""), "abc");
}

TEST(MpiHelpers, NoErrorThrowsNothing) {
  const Thrown t = agree(nullptr, 0);
  EXPECT_EQ(t.code, 0) << t.what;
}

TEST(MpiHelpers, AUsageErrorKeepsItsSubjectOnEveryRank) {
  const int root = size() / 2;
  const Thrown t =
      agree(std::make_exception_ptr(pmap::UsageError("shard", "3/2", "expected I/N")), root);
  EXPECT_TRUE(t.usage) << "rank " << rank();
  EXPECT_EQ(t.code, 2);
  EXPECT_EQ(t.subject, "shard");
  EXPECT_EQ(t.value, "3/2");
  EXPECT_EQ(t.detail, "expected I/N");
  EXPECT_EQ(t.what, "shard 3/2: expected I/N");
}

TEST(MpiHelpers, RuntimeAndForeignErrorsExitThreeOnEveryRank) {
  const Thrown io = agree(std::make_exception_ptr(pmap::RuntimeError("disk full")), 0);
  EXPECT_TRUE(io.runtime);
  EXPECT_EQ(io.code, 3);
  EXPECT_EQ(io.subject, "");
  EXPECT_EQ(io.what, "disk full");
  const Thrown foreign = agree(std::make_exception_ptr(std::logic_error("bug")), 0);
  EXPECT_TRUE(foreign.runtime);
  EXPECT_EQ(foreign.code, 3);
  EXPECT_EQ(foreign.what, "bug");
}

}  // namespace
