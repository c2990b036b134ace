// Scrub's detection layer: validators against published test vectors (card networks' test
// numbers, IBAN registry examples, RFC 4291 addresses, the JWT of RFC 7519), each detector on
// positives and hard negatives, overlaps, custom detectors and word lists, config errors, a 2 MB
// linear-time check, and per-entity recall/precision on tests/fixtures/scrub/corpus.jsonl.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iomanip>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../core/test_util.h"
#include "scrub/detect.h"
#include "scrub/validate.h"

using namespace slmify;

namespace {

ScrubConfig default_config() { return ScrubConfig{}; }

const Detector& default_detector() {
  static const Detector d(default_config());
  return d;
}

/// "ENTITY:value" for every detection, in order.
std::vector<std::string> found(const Detector& d, std::string_view text) {
  std::vector<std::string> out;
  for (const auto& x : d.find(text)) out.push_back(x.entity + ":" + std::string(text.substr(x.begin, x.end - x.begin)));
  return out;
}
std::vector<std::string> found(std::string_view text) { return found(default_detector(), text); }

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("luhn and card_valid accept the networks' published test numbers", "[scrub]") {
  for (const char* n : {"4111 1111 1111 1111", "4012 8888 8888 1881", "5555 5555 5555 4444", "2223 0031 2200 3222",
                        "3782 822463 10005", "6011 1111 1111 1117", "3530 1113 3330 0000", "3056 9309 0259 04",
                        "4000056655665556", "5105105105105100", "371449635398431", "6011000990139424", "4222222222222"}) {
    INFO(n);
    CHECK(luhn_valid(n));
    CHECK(card_valid(n));
  }
  CHECK_FALSE(luhn_valid("4111 1111 1111 1112"));
  CHECK_FALSE(card_valid("4111-1111 1111-1111"));   // mixed separators
  CHECK_FALSE(card_valid("1234567812345670"));      // Luhn-valid, no network starts with 1
  CHECK_FALSE(card_valid("378282246310005 0"));     // Amex is 15 digits
  CHECK_FALSE(luhn_valid(""));
}

TEST_CASE("iban_valid checks the registry length and mod-97", "[scrub]") {
  for (const char* s : {"DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606",
                        "NL91 ABNA 0417 1643 00", "ES91 2100 0418 4502 0005 1332", "BE68539007547034", "CH9300762011623852957",
                        "IT60X0542811101000000123456", "NO9386011117947", "MT84MALT011000012345MTLCAST001S"}) {
    INFO(s);
    CHECK(iban_valid(s));
  }
  CHECK(iban_length("DE") == 22);
  CHECK(iban_length("US") == 0);
  CHECK_FALSE(iban_valid("DE88 3704 0044 0532 0130 00"));  // check digits off by one
  CHECK_FALSE(iban_valid("DE89 3704 0044 0532 0130 0"));   // too short for DE
  CHECK_FALSE(iban_valid("US89 3704 0044 0532 0130 00"));  // no IBAN in the US
  CHECK_FALSE(iban_valid("de89 3704 0044 0532 0130 00"));
}

TEST_CASE("ssn_valid excludes the never-issued ranges", "[scrub]") {
  CHECK(ssn_valid("078-05-1120"));
  CHECK(ssn_valid("123 45 6789"));
  CHECK(ssn_valid("219099999"));
  for (const char* s : {"000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000", "123-45 6789"}) {
    INFO(s);
    CHECK_FALSE(ssn_valid(s));
  }
}

TEST_CASE("ip validators follow dotted-quad and RFC 4291 text forms", "[scrub]") {
  CHECK(ipv4_valid("192.168.0.1"));
  CHECK(ipv4_valid("255.255.255.255"));
  CHECK_FALSE(ipv4_valid("999.1.1.1"));
  CHECK_FALSE(ipv4_valid("256.1.1.1"));
  CHECK_FALSE(ipv4_valid("1.2.3"));
  CHECK_FALSE(ipv4_valid("01.2.3.4"));
  for (const char* s : {"2001:db8:85a3:0:0:8a2e:370:7334", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.128", "::", "1::"}) {
    INFO(s);
    CHECK(ipv6_valid(s));
  }
  for (const char* s : {"2001:db8::1::2", "12:30:45", "00:1a:2b:3c:4d:5e", "2001:db8:85a3:0:0:8a2e:370:7334:1", "12345::1", "g::1"}) {
    INFO(s);
    CHECK_FALSE(ipv6_valid(s));
  }
}

TEST_CASE("entropy, base64url and the JWT header check", "[scrub]") {
  CHECK(shannon_entropy("") == 0.0);
  CHECK(shannon_entropy("aaaa") == 0.0);
  CHECK(shannon_entropy("abcd") == Approx(2.0));
  CHECK(entropy_ok("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 3.5));
  CHECK_FALSE(entropy_ok("xxxxxxxxxxxxxxxxxxxx", 1.0));
  CHECK_FALSE(entropy_ok("changeme", 1.0));
  std::string out;
  REQUIRE(base64url_decode("eyJhbGciOiJIUzI1NiJ9", out));
  CHECK(out == R"({"alg":"HS256"})");
  // RFC 7519 section 3.1's example token.
  CHECK(jwt_header_ok("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
                      "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
  CHECK_FALSE(jwt_header_ok("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.sig"));  // {"typ":"JWT"}: no alg
  CHECK_FALSE(jwt_header_ok("bm90IGpzb24.eyJzdWIiOiIxIn0.sig"));
  CHECK(date_valid(2000, 2, 29));
  CHECK_FALSE(date_valid(1900, 2, 29));
  CHECK_FALSE(date_valid(1985, 13, 1));
}

TEST_CASE("email detector", "[scrub]") {
  CHECK(found("Contact jane.doe+billing@example.co.uk today.") == V{"EMAIL:jane.doe+billing@example.co.uk"});
  CHECK(found("{\"to\": \"ops@mail.acme-corp.io\"}") == V{"EMAIL:ops@mail.acme-corp.io"});
  CHECK(found("git clone git@github.com:org/repo.git").empty());
  CHECK(found("see icon@2x.png and lodash@4.17.21").empty());
  CHECK(found("user@localhost is not routable").empty());
}

TEST_CASE("phone detector covers E.164 and national formats", "[scrub]") {
  CHECK(found("call +49 30 1234567 now") == V{"PHONE:+49 30 1234567"});
  CHECK(found("US: (415) 555-0132.") == V{"PHONE:(415) 555-0132"});
  CHECK(found("UK office 020 7946 0958") == V{"PHONE:020 7946 0958"});
  CHECK(found("+44 (0)20 7946 0958") == V{"PHONE:+44 (0)20 7946 0958"});
  CHECK(found("Tel. 01 23 45 67 89") == V{"PHONE:01 23 45 67 89"});
  CHECK(found("JP 03-1234-5678") == V{"PHONE:03-1234-5678"});
  CHECK(found("móvil: 612 34 56 78") == V{"PHONE:612 34 56 78"});
  CHECK(found("ts 2024-03-12 10:15:30 took 1710236130 ms").empty());
  CHECK(found("on 01/02/2024 12:00").empty());
  CHECK(found("UTC+01:00 and GMT+0100").empty());
}

TEST_CASE("card, iban and ssn detectors validate what they find", "[scrub]") {
  CHECK(found("card 4111-1111-1111-1111 exp 12/27") == V{"CARD:4111-1111-1111-1111"});
  CHECK(found("card 4111 1111 1111 1112").empty());
  CHECK(found("Amex 3782 822463 10005.") == V{"CARD:3782 822463 10005"});
  CHECK(found("IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX") == V{"IBAN:DE89 3704 0044 0532 0130 00"});
  CHECK(found("IBAN DE89370400440532013001").empty());
  CHECK(found("SSN 078-05-1120") == V{"SSN:078-05-1120"});
  CHECK(found("ssn: 219099999") == V{"SSN:219099999"});
  CHECK(found("SSN 666-12-3456 and 123-00-4567").empty());
}

TEST_CASE("ip and mac detectors", "[scrub]") {
  CHECK(found("from 203.0.113.7:8080") == V{"IP:203.0.113.7"});
  CHECK(found("version 1.2.3.4") == V{"IP:1.2.3.4"});  // syntactically an IP: reported (docs/scrub.md)
  CHECK(found("v1.2.3.4 and 1.2.3.4.5 and 999.1.1.1").empty());
  CHECK(found("addr [2001:db8::8a2e:370:7334]:443") == V{"IP:2001:db8::8a2e:370:7334"});
  CHECK(found("std::vector<int> at 12:30:45").empty());
  CHECK(found("hw 00:1A:2B:3C:4D:5E") == V{"MAC:00:1A:2B:3C:4D:5E"});
  CHECK(found("cisco 001a.2b3c.4d5e") == V{"MAC:001a.2b3c.4d5e"});
  CHECK(found("00:1A:2B-3C:4D:5E and ff:ff:ff:ff:ff:ff").empty());
}

TEST_CASE("secret detector finds keys and tokens and skips placeholders", "[scrub]") {
  CHECK(found("AKIAIOSFODNN7EXAMPLE") == V{"SECRET:AKIAIOSFODNN7EXAMPLE"});
  CHECK(found("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") ==
        V{"SECRET:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"});
  CHECK(found("token ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R") == V{"SECRET:ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R"});
  CHECK(found("key sk-ant-api03-Xy7kP2mQ9vR4tL8wN3bJ6hF1dS5gA0cE") == V{"SECRET:sk-ant-api03-Xy7kP2mQ9vR4tL8wN3bJ6hF1dS5gA0cE"});
  CHECK(found("OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx").empty());
  CHECK(found("password=\"Tr0ub4dor&3x\"") == V{"SECRET:Tr0ub4dor&3x"});
  CHECK(found("api_key = os.getenv(\"OPENAI_API_KEY\") and max_tokens=4096 and password: changeme").empty());
  std::string pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----";
  CHECK(found("key:\n" + pem + "\nend") == V{"SECRET:" + pem});
  CHECK(found("commit 3f786850e387550fdab836ed7e6dc881de23001b sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").empty());
}

TEST_CASE("dob detector needs a birth keyword near a valid date", "[scrub]") {
  CHECK(found("DOB: 12/03/1985") == V{"DOB:12/03/1985"});
  CHECK(found("Geburtsdatum: 5. März 1985") == V{"DOB:5. März 1985"});
  CHECK(found("fecha de nacimiento 12 de marzo de 1985") == V{"DOB:12 de marzo de 1985"});
  CHECK(found("born on March 3, 1990 in Ohio") == V{"DOB:March 3, 1990"});
  CHECK(found("created 1985-03-12, DOB unknown").empty());
  CHECK(found("DOB: 31/02/1985").empty());
}

TEST_CASE("overlaps resolve by priority then length", "[scrub]") {
  // The e-mail address is part of the URL's credentials: one URL_CREDENTIALS span wins.
  CHECK(found("ftp://alice@example.com:s3cret@files.example.com/x") == V{"URL_CREDENTIALS:alice@example.com:s3cret"});
  CHECK(found("postgres://app:Pa55w0rd@db.internal:5432/main") == V{"URL_CREDENTIALS:app:Pa55w0rd"});
  // A card number also fits the national phone shape and the context rule: CARD wins.
  CHECK(found("phone 4111 1111 1111 1111") == V{"CARD:4111 1111 1111 1111"});
  // An SSN written like a phone number with a trunk zero: SSN wins.
  CHECK(found("ref 078-05-1120") == V{"SSN:078-05-1120"});
  auto d = default_detector().find("a@b.io 4111111111111111 10.0.0.1");
  REQUIRE(d.size() == 3);
  CHECK((d[0].begin < d[1].begin && d[1].begin < d[2].begin));
  CHECK(d[1].detector == "card");
}

TEST_CASE("custom detectors and word lists", "[scrub]") {
  slmify_test::TempDir tmp;
  auto words = tmp.path() / "customers.txt";
  std::ofstream(words) << "# customers\nGlobex Corporation\n\nInitech\nJosé Müller\n";
  ScrubConfig cfg;
  cfg.detectors = {"email"};
  cfg.custom_detectors = {{"employee_id", R"(\bEMP-\d{6}\b)", "none", "EMPLOYEE_ID"},
                          {"loyalty_card", R"(\b\d{10}\b)", "luhn", "LOYALTY"}};
  cfg.word_lists = {{"CUSTOMER", words.string(), {"Project Falcon"}}};
  Detector d(cfg);
  CHECK(d.entities() == V{"CUSTOMER", "EMAIL", "EMPLOYEE_ID", "LOYALTY"});
  CHECK(found(d, "EMP-123456 filed it") == V{"EMPLOYEE_ID:EMP-123456"});
  CHECK(found(d, "loyalty 1234567897 vs 1234567890") == V{"LOYALTY:1234567897"});
  CHECK(found(d, "GLOBEX   corporation and initech's PROJECT FALCON") ==
        V{"CUSTOMER:GLOBEX   corporation", "CUSTOMER:initech", "CUSTOMER:PROJECT FALCON"});
  CHECK(found(d, "Initechnology, reinitech, globex").empty());
  CHECK(found(d, "JOSÉ MÜLLER wrote «José Müller»") == V{"CUSTOMER:JOSÉ MÜLLER", "CUSTOMER:José Müller"});
  CHECK(found(d, "JoséMüller Josée Müller").empty());
}

TEST_CASE("config errors name the rule and RE2's message", "[scrub]") {
  ScrubConfig cfg;
  cfg.custom_detectors = {{"broken", "(unclosed", "none", "X"}, {"empty", "a*", "none", "Y"}, {"ok", "\\bok\\b", "none", "Z"}};
  cfg.word_lists = {{"PERSON", "/nonexistent/slmify/words.txt", {}}};
  auto problems = detector_check(cfg);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].where == "scrub.custom_detectors[0].regex");
  CHECK_THAT(problems[0].what, Catch::Contains("broken") && Catch::Contains("missing )"));
  CHECK_THAT(problems[1].what, Catch::Contains("empty string"));
  CHECK(problems[2].where == "scrub.word_lists[0].file");
  try {
    Detector d(cfg);
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(e.problems().size() == 3);
  }
  CHECK(detector_check(ScrubConfig{}).empty());
}

TEST_CASE("find on 2 MiB strings built to provoke backtracking finds what each piece has", "[scrub][slow]") {
  // RE2 is linear by construction; the validators after it are what could go quadratic. No clock
  // here (bench_scrub measures MB/s): a pathological string must finish under ctest's timeout, and
  // a unit repeated 2 MiB over gives the unit's detections at every repetition.
  std::string unit = "2024-03-12T10:15:30Z user=42 took 17ms ip 10.0.0.1 sha 3f786850e387550fdab836ed7e6dc881de23001b ";
  std::string text;
  size_t reps = 0;
  for (; text.size() < (2u << 20); ++reps) text += unit;
  std::vector<Detection> one = default_detector().find(unit), all = default_detector().find(text);
  REQUIRE_FALSE(one.empty());
  REQUIRE(all.size() == one.size() * reps);
  for (size_t i = 0; i < all.size(); ++i) {
    const Detection& want = one[i % one.size()];
    INFO("detection " << i);
    CHECK(all[i].begin == want.begin + (i / one.size()) * unit.size());
    CHECK(all[i].end - all[i].begin == want.end - want.begin);
  }
  std::string digits(2u << 20, '7');
  std::string hex;
  while (hex.size() < (2u << 20)) hex += "deadbeef:";
  std::string dotted, spaced, ats;
  while (dotted.size() < (2u << 20)) dotted += "1.";
  while (spaced.size() < (2u << 20)) spaced += "0171 ";
  while (ats.size() < (2u << 20)) ats += "a@b.";
  for (const std::string* t : {&digits, &hex, &dotted, &spaced, &ats}) {
    bool within = true;
    for (const Detection& x : default_detector().find(*t)) within &= x.begin < x.end && x.end <= t->size();
    CHECK(within);
  }
}

TEST_CASE("corpus recall and precision per entity", "[scrub]") {
  std::ifstream in(std::string(SLMIFY_SOURCE_DIR) + "/tests/fixtures/scrub/corpus.jsonl");
  REQUIRE(in.good());
  struct Counts { int tp = 0, fp = 0, fn = 0; };
  std::map<std::string, Counts> counts;
  const Detector& d = default_detector();
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    auto j = nlohmann::json::parse(line);
    std::string text = j["text"].get<std::string>();
    std::multiset<std::pair<std::string, std::string>> want;
    for (const auto& e : j["entities"]) want.insert({e["entity"].get<std::string>(), e["value"].get<std::string>()});
    for (const auto& x : d.find(text)) {
      auto it = want.find({x.entity, text.substr(x.begin, x.end - x.begin)});
      if (it != want.end()) {
        ++counts[x.entity].tp;
        want.erase(it);
      } else {
        ++counts[x.entity].fp;
        UNSCOPED_INFO("FP " << x.entity << " [" << text.substr(x.begin, x.end - x.begin) << "] in: " << text);
      }
    }
    for (const auto& [entity, value] : want) {
      ++counts[entity].fn;
      UNSCOPED_INFO("FN " << entity << " [" << value << "] in: " << text);
    }
  }
  std::ostringstream table;
  table << lines << " corpus lines\n"
        << std::left << std::setw(16) << "entity" << std::right << std::setw(6) << "TP" << std::setw(6) << "FP"
        << std::setw(6) << "FN" << std::setw(9) << "recall" << std::setw(11) << "precision\n";
  for (const auto& [entity, c] : counts) {
    double recall = c.tp + c.fn ? double(c.tp) / (c.tp + c.fn) : 1.0;
    double precision = c.tp + c.fp ? double(c.tp) / (c.tp + c.fp) : 1.0;
    table << std::left << std::setw(16) << entity << std::right << std::setw(6) << c.tp << std::setw(6) << c.fp << std::setw(6)
          << c.fn << std::setw(9) << std::fixed << std::setprecision(3) << recall << std::setw(10) << precision << "\n";
  }
  std::cout << table.str();
  for (const char* entity : {"EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "MAC", "URL_CREDENTIALS", "SECRET", "DOB"}) {
    const Counts& c = counts[entity];
    INFO(entity << " TP " << c.tp << " FP " << c.fp << " FN " << c.fn);
    CHECK(c.tp >= 40);
    CHECK(double(c.tp) / std::max(1, c.tp + c.fn) >= 0.99);
    CHECK(double(c.tp) / std::max(1, c.tp + c.fp) >= 0.97);
  }
}
