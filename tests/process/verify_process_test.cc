// `triad verify` on `triad submit` output lines: a line's own fields must
// be what its certificate proves, and a line without a certificate may not
// claim an approval. Real certificates from a real cluster, edited lines.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "input_util.h"
#include "process_util.h"

namespace triad::testing {
namespace {

using Json = nlohmann::json;

std::string tx(const std::string& id, const std::string& stan, std::int64_t amount) {
  return R"({"id":")" + id +
         R"(","mti":"0100","pan":"4111111111111111","proc":"000000","amount":)" +
         std::to_string(amount) + R"(,"currency":"840","expiry":"2912","mcc":"5411","stan":")" +
         stan + R"(","terminal":"TERM0001","merchant":"SHOP","ts":1798761600000})";
}

class VerifyCommand : public ::testing::Test {
 protected:
  // One cluster for the suite: an approval (seq 1) and a decline for
  // insufficient funds (seq 2), both with certificates.
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    write_file(tmp_->file("cards.csv"), kOneCardFile);
    cluster_ = new Cluster(*tmp_, tmp_->file("cards.csv"));
    ASSERT_TRUE(cluster_->ready()) << read_file(tmp_->file("up.stderr"));
    write_file(tmp_->file("in.jsonl"),
               tx("t1", "000001", 1000) + "\n" + tx("t2", "000002", 600000) + "\n");
    std::string out;
    ASSERT_EQ(submit_file(*cluster_, tmp_->file("in.jsonl"), &out), 0);
    const auto lines = lines_of(out);
    ASSERT_EQ(lines.size(), 2u) << out;
    approval_ = new Json(Json::parse(lines[0]));
    decline_ = new Json(Json::parse(lines[1]));
  }
  static void TearDownTestSuite() {
    if (cluster_ != nullptr) {
      EXPECT_EQ(cluster_->stop(), 0);
    }
    const std::string path = tmp_->path();
    delete approval_;
    delete decline_;
    delete cluster_;
    delete tmp_;
    EXPECT_TRUE(processes_mentioning(path).empty());
  }
  void SetUp() override {
    ASSERT_NE(approval_, nullptr);
    ASSERT_NE(decline_, nullptr);
    ASSERT_EQ((*approval_)["code"], "00");
    ASSERT_EQ((*decline_)["code"], "51");
    ASSERT_TRUE((*decline_)["cert"].is_string());
  }

  // `triad verify` of these lines: its exit status, and its output in *out.
  static int verify(const std::vector<std::string>& lines, std::string* out) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    write_file(tmp_->file("verify.jsonl"), text);
    return run({bin("triad"), "verify", "--dir", cluster_->dir(), tmp_->file("verify.jsonl")}, out);
  }

  // `triad verify INPUT` (its standard input from `stdin_path` when given):
  // its exit status, standard output in *out and standard error in *err.
  static int verify_input(const std::string& input, const std::string& stdin_path, std::string* out,
                          std::string* err) {
    std::filesystem::remove(tmp_->file("verify.err"));
    Child c({bin("triad"), "verify", "--dir", cluster_->dir(), input}, stdin_path,
            tmp_->file("verify.err"));
    *out = c.read_all(30'000);
    const int status = c.wait(30'000);
    *err = read_file(tmp_->file("verify.err"));
    return status;
  }

  static TempDir* tmp_;
  static Cluster* cluster_;
  static Json* approval_;
  static Json* decline_;
};

TempDir* VerifyCommand::tmp_ = nullptr;
Cluster* VerifyCommand::cluster_ = nullptr;
Json* VerifyCommand::approval_ = nullptr;
Json* VerifyCommand::decline_ = nullptr;

TEST_F(VerifyCommand, SubmitLinesAsPrintedAreValid) {
  std::string out;
  EXPECT_EQ(verify({approval_->dump(), decline_->dump()}, &out), 0) << out;
  EXPECT_EQ(out, "2 valid, 0 invalid, 0 without certificate\n");
  EXPECT_EQ(verify({decline_->dump()}, &out), 0) << out;
  EXPECT_EQ(out.rfind("valid: seq 2 code 51 ", 0), 0u) << out;
  EXPECT_EQ(verify({(*decline_)["cert"].get<std::string>()}, &out), 0) << out;
  EXPECT_EQ(out.rfind("valid: seq 2 code 51 ", 0), 0u) << "bare base64 as before: " << out;
}

TEST_F(VerifyCommand, ADeclineRewrittenAsAnApprovalIsInvalid) {
  Json forged = *decline_;
  forged["code"] = "00";
  forged["approved"] = true;
  forged["seq"] = 7;
  std::string out;
  EXPECT_EQ(verify({forged.dump()}, &out), 1) << out;
  EXPECT_EQ(out,
            "line 1: INVALID: field seq is 7, the certificate's is 2\n"
            "0 valid, 1 invalid, 0 without certificate\n");
}

TEST_F(VerifyCommand, EachFieldMustBeTheCertificates) {
  const std::int64_t ts = (*decline_)["ts"].get<std::int64_t>();
  std::string masked_ts = std::to_string(ts + 1);  // 13 digits: first 6 and last 4 kept
  ASSERT_EQ(masked_ts.size(), 13u);
  masked_ts.replace(6, 3, "***");
  const std::vector<std::pair<Json, std::string>> cases = {
      {{{"code", "00"}}, R"(field code is "00", the certificate's is "51")"},
      {{{"approved", true}}, "field approved is true, the certificate's is false (code 51)"},
      // A line's digits are masked as a PAN is from 12 on (a card number
      // typed into a field is not echoed), a ts in ms too.
      {{{"ts", ts + 1}},
       "field ts is " + masked_ts + ", the certificate's is " + std::to_string(ts)},
      {{{"seq", 4111111111111111}}, "field seq is 411111******1111, the certificate's is 2"},
      {{{"code", "4111 1111 1111 1111"}},
       R"(field code is "411111******1111", the certificate's is "51")"},
      {{{"seq", "2"}}, R"(field seq is "2", the certificate's is 2)"},
      {{{"seq", 2.0}}, "field seq is 2.0, the certificate's is 2"},
  };
  for (const auto& [change, reason] : cases) {
    Json line = *decline_;
    line.update(change);
    std::string out;
    EXPECT_EQ(verify({approval_->dump(), line.dump()}, &out), 1) << out;
    EXPECT_EQ(out, "line 2: INVALID: " + reason + "\n1 valid, 1 invalid, 0 without certificate\n");
  }
}

// A field nested deeper than the stack allows: the line is INVALID, named
// by the field's kind. Printing it (dump(), one call per level) crashed the
// command with SIGSEGV, a valid certificate beside it.
TEST_F(VerifyCommand, ADeeplyNestedFieldIsInvalidWithoutACrash) {
  constexpr std::size_t kDepth = 2'000'000;
  Json line = *decline_;
  line["seq"] = "SEQ";
  const std::string text = line.dump();
  const auto at = text.find("\"SEQ\"");
  ASSERT_NE(at, std::string::npos);
  const std::string nested = std::string(kDepth, '[') + std::string(kDepth, ']');
  std::string out;
  EXPECT_EQ(verify({text.substr(0, at) + nested + text.substr(at + 5)}, &out), 1) << out;
  EXPECT_EQ(out,
            "line 1: INVALID: field seq is an array, the certificate's is 2\n"
            "0 valid, 1 invalid, 0 without certificate\n");
  // Nested in a field a certificate does not prove: not looked into.
  Json agree = *decline_;
  agree["agree"] = "AGREE";
  const std::string agree_text = agree.dump();
  const auto agree_at = agree_text.find("\"AGREE\"");
  ASSERT_NE(agree_at, std::string::npos);
  EXPECT_EQ(
      verify({agree_text.substr(0, agree_at) + nested + agree_text.substr(agree_at + 7)}, &out), 0)
      << out;
  EXPECT_EQ(out.rfind("valid: seq 2 code 51 ", 0), 0u) << out;
  Json object = *decline_;
  object["code"] = {{"code", "51"}};
  EXPECT_EQ(verify({object.dump()}, &out), 1) << out;
  EXPECT_EQ(out,
            "line 1: INVALID: field code is an object, the certificate's is \"51\"\n"
            "0 valid, 1 invalid, 0 without certificate\n");
}

TEST_F(VerifyCommand, AnApprovalWithoutACertificateIsInvalid) {
  Json no_cert = *approval_;
  no_cert["cert"] = nullptr;
  Json cert_left_out = *approval_;
  cert_left_out.erase("cert");
  cert_left_out.erase("approved");
  Json decline_without = *decline_;
  decline_without.erase("cert");
  std::string out;
  EXPECT_EQ(verify({no_cert.dump()}, &out), 1) << out;
  EXPECT_EQ(out,
            "line 1: INVALID: approved without a certificate\n"
            "0 valid, 1 invalid, 0 without certificate\n");
  EXPECT_EQ(verify({cert_left_out.dump()}, &out), 1) << out;
  EXPECT_NE(out.find("line 1: INVALID: code 00 without a certificate"), std::string::npos) << out;
  EXPECT_EQ(verify({decline_without.dump()}, &out), 1) << out;
  EXPECT_NE(out.find("line 1: INVALID: code 51 without a certificate"), std::string::npos) << out;
  decline_without["code"] = "4111111111111111";
  EXPECT_EQ(verify({decline_without.dump()}, &out), 1) << out;
  EXPECT_NE(out.find("line 1: INVALID: code 411111******1111 without a certificate"),
            std::string::npos)
      << out;
}

TEST_F(VerifyCommand, FailSafeDeclinesAndClientErrorsHaveNoCertificateAndPass) {
  Json fail_safe = *decline_;
  fail_safe["code"] = "96";
  fail_safe["agree"] = Json::array();
  fail_safe["cert"] = nullptr;
  Json no_answer = fail_safe;
  no_answer["code"] = "91";
  const Json error = {{"line", 4}, {"error", "not valid JSON"}};
  std::string out;
  EXPECT_EQ(verify({approval_->dump(), fail_safe.dump(), no_answer.dump(), error.dump()}, &out), 0)
      << out;
  EXPECT_EQ(out, "1 valid, 0 invalid, 3 without certificate\n");
}

// Exit 0 says a certificate held: input with no line that has one is
// INVALID (exit 1), as an empty input is, even when its lines are allowed
// without one. It exited 0 with "0 valid, 0 invalid, 1 without certificate".
TEST_F(VerifyCommand, InputWithoutAnyCertificateIsInvalid) {
  Json fail_safe = *decline_;
  fail_safe["code"] = "96";
  fail_safe["cert"] = nullptr;
  const Json error = {{"line", 2}, {"error", "not valid JSON"}};
  std::string out;
  EXPECT_EQ(verify({"{}"}, &out), 1) << out;
  EXPECT_EQ(out, "INVALID: no certificate in the input, only 1 line without one\n");
  EXPECT_EQ(verify({fail_safe.dump(), error.dump()}, &out), 1) << out;
  EXPECT_EQ(out, "INVALID: no certificate in the input, only 2 lines without one\n");
  EXPECT_EQ(verify({""}, &out), 1) << out;
  EXPECT_EQ(out, "INVALID: no certificate in the input\n");
  EXPECT_EQ(verify({fail_safe.dump(), decline_->dump()}, &out), 0) << out;
  EXPECT_EQ(out, "1 valid, 0 invalid, 1 without certificate\n");
}

// Input it cannot read is an error (exit 2, one line naming the input and
// the reason), not the end of the input: a directory read as an empty
// input ("no certificate"), and a read error after a valid line let that
// line's "valid" stand for the whole input (exit 0).
TEST_F(VerifyCommand, InputThatCannotBeReadIsAnErrorNamingIt) {
  const std::string dir = tmp_->file("a-directory");
  std::filesystem::create_directory(dir);
  std::string out;
  std::string err;
  EXPECT_EQ(verify_input(dir, "", &out, &err), 2) << out;
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "triad verify: cannot read " + dir + ": Is a directory\n");
  EXPECT_EQ(verify_input("-", dir, &out, &err), 2) << out;
  EXPECT_EQ(err, "triad verify: cannot read standard input: Is a directory\n");

  const int failing = socket_failing_after(approval_->dump() + "\n");
  int status = -1;
  {
    const StdinFrom in(failing);
    status = verify_input("-", "", &out, &err);
  }
  ::close(failing);
  EXPECT_EQ(status, 2) << out;
  EXPECT_EQ(err,
            "triad verify: cannot read standard input: Connection reset by peer (after line 1)\n");
}

}  // namespace
}  // namespace triad::testing
