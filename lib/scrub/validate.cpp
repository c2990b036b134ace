// Validators of scrub's detectors; see validate.h. The IBAN length table is the SWIFT IBAN
// registry's; card prefixes follow the networks' published IIN ranges.
#include "scrub/validate.h"

#include "core/record.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace slmify {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool in_range(std::string_view digits, int prefix_len, int lo, int hi) {
  if (static_cast<int>(digits.size()) < prefix_len) return false;
  int p = to_int(digits.substr(0, static_cast<size_t>(prefix_len)));
  return p >= lo && p <= hi;
}

}  // namespace

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s)
    if (is_digit(c)) d += c;
  return d;
}

bool luhn_valid(std::string_view s) {
  int sum = 0, n = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    char c = *it;
    if (c == ' ' || c == '-') continue;
    if (!is_digit(c)) return false;
    int d = c - '0';
    if (n++ % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return n > 0 && sum % 10 == 0;
}

bool card_valid(std::string_view s) {
  char sep = 0;
  for (char c : s) {
    if (is_digit(c)) continue;
    if (c != ' ' && c != '-') return false;
    if (sep && c != sep) return false;  // "4111 1111-1111 1111" is not how cards are written
    sep = c;
  }
  std::string d = digits_of(s);
  size_t n = d.size();
  if (n < 13 || n > 19) return false;
  bool network = false;
  if (d[0] == '4') network = n == 13 || n == 16 || n == 19;                                     // Visa
  if (in_range(d, 2, 51, 55) || in_range(d, 4, 2221, 2720)) network = n == 16;                 // Mastercard
  if (in_range(d, 2, 34, 34) || in_range(d, 2, 37, 37)) network = n == 15;                     // Amex
  if (in_range(d, 4, 6011, 6011) || in_range(d, 3, 644, 649) || in_range(d, 2, 65, 65) ||      // Discover
      in_range(d, 4, 3528, 3589) || in_range(d, 2, 62, 62))                                    // JCB, UnionPay
    network = n >= 16;
  if (in_range(d, 3, 300, 305) || in_range(d, 4, 3095, 3095) || in_range(d, 2, 36, 36) ||      // Diners
      in_range(d, 2, 38, 39))
    network = n >= 14;
  if (in_range(d, 2, 50, 50) || in_range(d, 2, 56, 69)) network = network || n >= 13;          // Maestro
  return network && luhn_valid(d);
}

int iban_length(std::string_view country) {
  // SWIFT IBAN registry, country code and total length.
  static const std::pair<const char*, int> kTable[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
      {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
      {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
      {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
      {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
      {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
      {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
      {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
      {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
      {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
      {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
  };
  for (const auto& [code, len] : kTable)
    if (country == code) return len;
  return 0;
}

bool iban_valid(std::string_view s) {
  std::string c;
  for (char ch : s) {
    if (ch == ' ') continue;
    if (!is_digit(ch) && !(ch >= 'A' && ch <= 'Z')) return false;
    c += ch;
  }
  if (c.size() < 5 || !is_digit(c[2]) || !is_digit(c[3])) return false;
  if (static_cast<int>(c.size()) != iban_length(std::string_view(c).substr(0, 2))) return false;
  // Move the first four characters to the end, letters become 10..35, remainder mod 97 must be 1.
  std::string r = c.substr(4) + c.substr(0, 4);
  uint32_t rem = 0;
  for (char ch : r) {
    if (is_digit(ch)) {
      rem = (rem * 10 + static_cast<uint32_t>(ch - '0')) % 97;
    } else {
      rem = (rem * 100 + static_cast<uint32_t>(ch - 'A' + 10)) % 97;
    }
  }
  return rem == 1;
}

bool ssn_valid(std::string_view s) {
  std::string d;
  if (s.size() == 11) {
    if (s[3] != s[6] || (s[3] != '-' && s[3] != ' ')) return false;
    d = std::string(s.substr(0, 3)) + std::string(s.substr(4, 2)) + std::string(s.substr(7, 4));
  } else if (s.size() == 9) {
    d = std::string(s);
  } else {
    return false;
  }
  if (d.size() != 9 || !std::all_of(d.begin(), d.end(), is_digit)) return false;
  int area = to_int(std::string_view(d).substr(0, 3));
  int group = to_int(std::string_view(d).substr(3, 2));
  int serial = to_int(std::string_view(d).substr(5, 4));
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool ipv4_valid(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    size_t len = j - i;
    if (len == 0 || len > 3 || (len > 1 && s[i] == '0')) return false;
    if (to_int(s.substr(i, len)) > 255) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool ipv6_valid(std::string_view s) {
  size_t dc = s.find("::");
  if (dc != std::string_view::npos && s.find("::", dc + 1) != std::string_view::npos) return false;
  int groups = 0;
  auto count = [&](std::string_view part) {  // part: groups separated by ':' (may be empty)
    if (part.empty()) return true;
    size_t i = 0;
    while (true) {
      size_t j = part.find(':', i);
      std::string_view g = part.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
      if (j == std::string_view::npos && g.find('.') != std::string_view::npos) {
        if (!ipv4_valid(g)) return false;
        groups += 2;
        return true;
      }
      if (g.empty() || g.size() > 4 || !std::all_of(g.begin(), g.end(), is_hex)) return false;
      ++groups;
      if (j == std::string_view::npos) return true;
      i = j + 1;
    }
  };
  if (dc == std::string_view::npos) return count(s) && groups == 8;
  std::string_view head = s.substr(0, dc), tail = s.substr(dc + 2);
  if (head.find('.') != std::string_view::npos) return false;  // an IPv4 part may only end the address
  if (!count(head)) return false;
  if (!count(tail)) return false;
  return groups <= 7;
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<size_t, 256> freq{};
  for (unsigned char c : s) ++freq[c];
  double h = 0.0, n = static_cast<double>(s.size());
  for (size_t f : freq) {
    if (f == 0) continue;
    double p = static_cast<double>(f) / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool entropy_ok(std::string_view s, double min_bits) {
  std::string low(s);
  std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kPlaceholderParts[] = {"xxxx", "****", "....", "<", ">", "{{", "${", "your_", "your-", "_here", "-here"};
  for (const char* p : kPlaceholderParts)
    if (low.find(p) != std::string::npos) return false;
  static const char* const kPlaceholders[] = {"changeme", "password", "passw0rd", "secret", "redacted", "placeholder",
                                              "undefined", "null", "none", "true", "false", "string", "required",
                                              "optional", "notset", "dummy", "testtest", "yourpassword", "example"};
  for (const char* p : kPlaceholders)
    if (low == p) return false;
  return shannon_entropy(s) >= min_bits;
}

bool base64url_decode(std::string_view s, std::string& out) { return base64_decode(s, out); }

bool jwt_header_ok(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  std::string header;
  if (!base64url_decode(token.substr(0, dot), header)) return false;
  auto j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("alg") && j["alg"].is_string();
}

bool date_valid(int year, int month, int day) {
  if (year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int max = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= max;
}

}  // namespace slmify
