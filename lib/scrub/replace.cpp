// Replacement policies and format-preserving pseudonyms; see replace.h.
#include "scrub/replace.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>

#include "scrub/validate.h"

namespace slmify {

bool replacement_parse(const std::string& s, Replacement& out) {
  if (s == "pseudonym") out = Replacement::pseudonym;
  else if (s == "mask") out = Replacement::mask;
  else if (s == "hash") out = Replacement::hash;
  else if (s == "drop") out = Replacement::drop;
  else return false;
  return true;
}

std::array<unsigned char, 32> Replacer::mac(const std::string& entity, std::string_view value) const {
  std::array<unsigned char, 32> out;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key_.data(), key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(entity.data()), entity.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>("\0"), 1);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  crypto_auth_hmacsha256_final(&st, out.data());
  return out;
}

namespace {

// A deterministic stream of pseudo-random numbers from a MAC (re-keyed when it runs out).
class Stream {
 public:
  explicit Stream(const std::array<unsigned char, 32>& seed) : seed_(seed) {}
  unsigned next(unsigned n) {  // uniform enough in [0, n) for n small
    if (pos_ + 2 > buf_.size()) refill();
    unsigned v = unsigned(buf_[pos_]) << 8 | buf_[pos_ + 1];
    pos_ += 2;
    return v % n;
  }
  char digit() { return static_cast<char>('0' + next(10)); }

 private:
  void refill() {
    unsigned char in[36];
    std::copy(seed_.begin(), seed_.end(), in);
    for (int i = 0; i < 4; ++i) in[32 + i] = static_cast<unsigned char>(counter_ >> (8 * i));
    ++counter_;
    crypto_hash_sha256(buf_.data(), in, sizeof in);
    pos_ = 0;
  }
  std::array<unsigned char, 32> seed_;
  std::array<unsigned char, 32> buf_{};
  size_t pos_ = 32;
  uint32_t counter_ = 0;
};

const char* kFirst[] = {"anna", "ben", "clara", "david", "elena", "farid", "greta", "hugo", "ines", "jonas",
                        "kira", "lucas", "maya", "nils", "olga", "pablo", "rosa", "sami", "tara", "viktor"};
const char* kLast[] = {"berg", "costa", "dahl", "evans", "fischer", "garcia", "hansen", "ito", "jensen", "klein",
                       "larsen", "moreau", "novak", "olsen", "petrov", "quinn", "rossi", "sato", "weber", "young"};
const char* kNames[] = {"Anna Berg", "Ben Costa", "Clara Dahl", "David Evans", "Elena Fischer", "Farid Garcia",
                        "Greta Hansen", "Hugo Ito", "Ines Jensen", "Jonas Klein", "Kira Larsen", "Lucas Moreau",
                        "Maya Novak", "Nils Olsen", "Olga Petrov", "Pablo Quinn", "Rosa Rossi", "Sami Sato"};

// Same length and punctuation, every digit replaced; a leading "+" and country code stay
// (they say where, not who).
std::string digits_like(std::string_view v, Stream& s, size_t keep_leading_digits) {
  std::string out(v);
  size_t seen = 0;
  for (char& c : out)
    if (std::isdigit(static_cast<unsigned char>(c)) && seen++ >= keep_leading_digits) c = s.digit();
  return out;
}

// Letters stay letters (same case), digits stay digits: for keys and tokens after their prefix.
std::string chars_like(std::string_view v, Stream& s, size_t keep_prefix) {
  std::string out(v);
  for (size_t i = keep_prefix; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (std::isdigit(c)) out[i] = s.digit();
    else if (std::islower(c)) out[i] = static_cast<char>('a' + s.next(26));
    else if (std::isupper(c)) out[i] = static_cast<char>('A' + s.next(26));
  }
  return out;
}

size_t secret_prefix(std::string_view v) {
  for (const char* p : {"sk-proj-", "sk-ant-", "sk_live_", "rk_live_", "pk_live_", "github_pat_", "ghp_", "gho_", "ghu_",
                        "ghs_", "ghr_", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "AKIA", "ASIA", "AIza", "sk-"})
    if (v.rfind(p, 0) == 0) return std::string_view(p).size();
  return 0;
}

std::string card_like(std::string_view v, Stream& s) {
  std::string out = digits_like(v, s, 1);  // the first digit names the network
  // Fix the last digit so that the number passes Luhn again.
  std::string digits;
  for (char c : out)
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  size_t last = out.find_last_of("0123456789");
  for (char d = '0'; d <= '9'; ++d) {
    digits.back() = d;
    if (luhn_valid(digits)) {
      out[last] = d;
      break;
    }
  }
  return out;
}

std::string iban_like(std::string_view v, Stream& s) {
  std::string out(v);
  // Keep the country (2 letters), redraw the account part, then set the check digits.
  size_t seen = 0;
  for (char& c : out) {
    if (c == ' ') continue;
    if (seen++ < 4) continue;
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isdigit(u)) c = s.digit();
    else if (std::isalpha(u)) c = static_cast<char>('A' + s.next(26));
  }
  std::string compact;
  for (char c : out)
    if (c != ' ') compact += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int check = 2; check <= 98; ++check) {
    char cd[3];
    std::snprintf(cd, sizeof cd, "%02d", check);
    compact[2] = cd[0], compact[3] = cd[1];
    if (iban_valid(compact)) break;
  }
  // Write the check digits back at their positions in the original layout.
  size_t idx = 0;
  for (char& c : out) {
    if (c == ' ') continue;
    if (idx == 2 || idx == 3) c = compact[idx];
    ++idx;
  }
  return out;
}

}  // namespace

std::string Replacer::pseudonym(const std::string& entity, std::string_view value) const {
  Stream s(mac(entity, value));
  if (entity == "EMAIL") {
    std::string local = std::string(kFirst[s.next(20)]) + "." + kLast[s.next(20)] + std::to_string(s.next(90) + 10);
    return local + "@example." + (s.next(2) ? "com" : "org");
  }
  if (entity == "PHONE") return digits_like(value, s, value.rfind('+', 0) == 0 ? 2 : 0);
  if (entity == "CARD") return card_like(value, s);
  if (entity == "IBAN") return iban_like(value, s);
  if (entity == "SSN") {
    // Area 900-999 is never issued: the stand-in cannot be anybody's number.
    std::string out = digits_like(value, s, 0);
    size_t first = out.find_first_of("0123456789");
    if (first != std::string::npos) out[first] = '9';
    return out;
  }
  if (entity == "IP") {
    if (value.find(':') != std::string_view::npos) {  // IPv6: the documentation prefix 2001:db8::/32
      char buf[64];
      std::snprintf(buf, sizeof buf, "2001:db8::%x:%x", s.next(65536), s.next(65536));
      return buf;
    }
    char buf[32];  // IPv4: TEST-NET-3, 203.0.113.0/24 (RFC 5737)
    std::snprintf(buf, sizeof buf, "203.0.113.%u", s.next(254) + 1);
    return buf;
  }
  if (entity == "MAC") {
    std::string out = chars_like(value, s, 0);
    // Locally administered, unicast: 02 in the first octet.
    size_t first = out.find_first_of("0123456789abcdefABCDEF");
    if (first != std::string::npos && first + 1 < out.size()) out[first] = '0', out[first + 1] = '2';
    return out;
  }
  if (entity == "URL_CREDENTIALS") {
    std::string v(value);
    size_t at = v.rfind('@'), scheme = v.find("://");
    if (at != std::string::npos && scheme != std::string::npos && at > scheme)
      return v.substr(0, scheme + 3) + "user" + std::to_string(s.next(900) + 100) + ":" + chars_like("passw0rdXy", s, 0) + v.substr(at);
    return "<URL_CREDENTIALS>";
  }
  if (entity == "SECRET") return chars_like(value, s, secret_prefix(value));
  if (entity == "DOB") return digits_like(value, s, 0);
  if (entity == "PERSON" || entity == "NAME") return kNames[s.next(18)];
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x", s.next(65536));
  return entity + "_" + buf;
}

std::string Replacer::replace(Replacement policy, const std::string& entity, std::string_view value) const {
  switch (policy) {
    case Replacement::mask: return "<" + entity + ">";
    case Replacement::hash: {
      auto m = mac(entity, value);
      char hex[9];
      std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", m[0], m[1], m[2], m[3]);
      return "<" + entity + ":" + hex + ">";
    }
    case Replacement::pseudonym: return pseudonym(entity, value);
    case Replacement::drop: return "<" + entity + ">";
  }
  return "<" + entity + ">";
}

}  // namespace slmify
