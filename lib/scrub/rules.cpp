// The built-in detection rules: for each detector family its patterns, the span they report, the
// check (validate.h plus neighbour tests) and the priority. docs/scrub.md describes each one.
#include "scrub/rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "scrub/validate.h"

namespace slmify::scrub_rules {

namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

/// The span is not glued to a neighbouring word, nor continued through a joiner (".", "-", ...)
/// into more letters or digits: "v1.2.3.4", "1.2.3.4.5" and "ID-078-05-1120" are not standalone.
bool standalone(std::string_view t, size_t b, size_t e, const char* joiners) {
  if (b > 0) {
    char p = t[b - 1];
    if (is_word(p)) return false;
    if (std::strchr(joiners, p) && b >= 2 && is_alnum(t[b - 2])) return false;
  }
  if (e < t.size()) {
    char n = t[e];
    if (is_word(n)) return false;
    if (std::strchr(joiners, n) && e + 1 < t.size() && is_alnum(t[e + 1])) return false;
  }
  return true;
}

size_t count_digits(std::string_view s) { return static_cast<size_t>(std::count_if(s.begin(), s.end(), is_digit)); }

/// "12.03.2024", "03/12/85", "2024-03-12": digit groups that read as a date, not a phone number.
bool date_shaped(std::string_view s) {
  std::vector<std::string_view> groups;
  std::string seps;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j == i) { seps += s[i]; ++i; continue; }
    groups.push_back(s.substr(i, j - i));
    i = j;
  }
  if (groups.size() < 3 || seps.size() < 2 || seps[0] != seps[1] || seps[0] == ' ') return false;
  auto len = [&](size_t k) { return groups[k].size(); };
  if (len(0) == 4 && len(1) <= 2 && len(2) <= 2) return true;                       // 2024-03-12
  return len(0) <= 2 && len(1) <= 2 && (len(2) == 4 || (groups.size() == 3 && len(2) == 2));  // 12.03.2024, 12/03/24
}

bool balanced_parens(std::string_view s) {
  int depth = 0, pairs = 0;
  for (char c : s) {
    if (c == '(') { if (++depth > 1) return false; ++pairs; }
    if (c == ')' && --depth < 0) return false;
  }
  return depth == 0 && pairs <= 1;
}

// ---- checks, one per rule family ----

bool check_email(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  size_t at = m.find('@');
  std::string_view local = m.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  if (b > 0 && (is_word(t[b - 1]) || t[b - 1] == '@')) return false;
  if (b >= 3 && t.substr(b - 3, 3) == "://") return false;  // ssh://git@host: a URL's user name, not an address
  if (e < t.size() && (is_word(t[e]) || t[e] == '@')) return false;
  if (e + 1 < t.size() && t[e] == ':' && !std::isspace(static_cast<unsigned char>(t[e + 1]))) return false;  // git@host:org/repo
  std::string tld(m.substr(m.rfind('.') + 1));
  std::transform(tld.begin(), tld.end(), tld.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* const kFileTypes[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "json", "yaml", "yml", "txt", "md", "html"};
  for (const char* f : kFileTypes)
    if (tld == f) return false;  // icon@2x.png
  return true;
}

bool check_url_credentials(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  return m.find("${") == std::string_view::npos && m.find("{{") == std::string_view::npos &&
         m.find("%s") == std::string_view::npos;
}

bool check_card(std::string_view t, size_t& b, size_t& e) {
  return standalone(t, b, e, ".,-/:") && card_valid(t.substr(b, e - b));
}

bool check_iban(std::string_view t, size_t& b, size_t& e) {
  if (b > 0 && is_word(t[b - 1])) return false;
  int want = iban_length(t.substr(b, 2));
  if (want == 0) return false;
  int n = 0;
  size_t i = b;
  for (; i < e && n < want; ++i)
    if (t[i] != ' ') ++n;
  if (n < want) return false;
  e = i;  // a greedy match may have taken a following word along; the country fixes the length
  if (e < t.size() && is_word(t[e])) return false;
  return iban_valid(t.substr(b, e - b));
}

bool check_ssn(std::string_view t, size_t& b, size_t& e) {
  return standalone(t, b, e, ".,-/:") && ssn_valid(t.substr(b, e - b));
}

bool check_ipv4(std::string_view t, size_t& b, size_t& e) {
  return standalone(t, b, e, ".") && ipv4_valid(t.substr(b, e - b));
}

bool check_ipv6(std::string_view t, size_t& b, size_t& e) {
  if (b > 0 && (is_word(t[b - 1]) || t[b - 1] == ':' || t[b - 1] == '.')) return false;
  if (e < t.size() && (is_word(t[e]) || t[e] == ':')) return false;
  if (e + 1 < t.size() && t[e] == '.' && is_digit(t[e + 1])) return false;
  std::string_view m = t.substr(b, e - b);
  int groups = 0;  // at least two non-empty groups: "::1" alone reads too often as slicing or a scope
  for (size_t i = 0; i < m.size();) {
    size_t j = i;
    while (j < m.size() && m[j] != ':') ++j;
    if (j > i) ++groups;
    i = j + 1;
  }
  return groups >= 2 && ipv6_valid(m);
}

bool check_mac(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  if (b > 0 && (is_word(t[b - 1]) || t[b - 1] == ':' || t[b - 1] == '-' || t[b - 1] == '.')) return false;
  if (e < t.size() && (is_word(t[e]) || ((t[e] == ':' || t[e] == '-' || t[e] == '.') && e + 1 < t.size() && is_hex(t[e + 1]))))
    return false;
  char sep = 0;
  std::string hex;
  for (char c : m) {
    if (is_hex(c)) { hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c))); continue; }
    if (sep && c != sep) return false;
    sep = c;
  }
  return hex != "000000000000" && hex != "ffffffffffff";  // unset and broadcast identify nobody
}

/// The candidate continues a run of code groups ("2223 0031 2200 3225", "value=CH93 0076 2011"):
/// the word before it ends in digits or in a four-character upper-case/digit group.
bool inside_grouped_code(std::string_view t, size_t b) {
  if (b < 2 || t[b - 1] != ' ') return false;
  size_t p = b - 1;
  auto code = [](char c) { return is_digit(c) || (c >= 'A' && c <= 'Z'); };
  while (p > 0 && code(t[p - 1])) --p;
  std::string_view run = t.substr(p, b - 1 - p);
  if (run.empty()) return false;
  return std::all_of(run.begin(), run.end(), is_digit) || run.size() == 4;
}

bool check_phone_e164(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  if (!standalone(t, b, e, ".-/") || !balanced_parens(m) || inside_grouped_code(t, b)) return false;
  if (b > 0 && t[b - 1] == '+') return false;
  std::string d = digits_of(m);
  if (m.substr(0, 2) == "00") d = d.substr(2);
  if (m.find("(0)") != std::string_view::npos) d.erase(d.find('0', 1), 1);  // +44 (0)20: trunk digit
  if (d.size() < 8 || d.size() > 15) return false;
  if (d[0] == '1' && d.size() != 11) return false;  // NANP: +1 and ten digits
  return true;
}

bool check_phone_nanp(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  return standalone(t, b, e, ".-/:") && balanced_parens(m) && !date_shaped(m) && !inside_grouped_code(t, b);
}

bool check_phone_national(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  size_t n = count_digits(m);
  return standalone(t, b, e, ".-/:") && n >= 9 && n <= 12 && balanced_parens(m) && !date_shaped(m) &&
         !inside_grouped_code(t, b);
}

bool check_phone_context(std::string_view t, size_t& b, size_t& e) {
  std::string_view m = t.substr(b, e - b);
  size_t n = count_digits(m);
  return standalone(t, b, e, ".-/:") && n >= 7 && n <= 15 && balanced_parens(m) && !date_shaped(m);
}

bool check_dob(std::string_view t, size_t& b, size_t& e) {
  if (e < t.size() && is_word(t[e])) return false;
  if (e + 1 < t.size() && (t[e] == '.' || t[e] == '-' || t[e] == '/') && is_digit(t[e + 1])) return false;
  std::string_view m = t.substr(b, e - b);
  static const char* const kMonths[12][7] = {
      {"jan", "ene", "gen", "janv", "januar", "enero", nullptr}, {"feb", "fév", "fev", nullptr},
      {"mar", "mär", "maerz", nullptr}, {"apr", "abr", "avr", nullptr}, {"may", "mai", "mag", "mayo", nullptr},
      {"jun", "juin", "giu", nullptr}, {"jul", "juil", "lug", nullptr}, {"aug", "ago", "aoû", "aou", nullptr},
      {"sep", "set", nullptr}, {"oct", "okt", "ott", nullptr}, {"nov", nullptr}, {"dec", "dez", "déc", "dic", nullptr}};
  std::vector<int> nums;
  int month_name = 0;
  for (size_t i = 0; i < m.size();) {
    if (is_digit(m[i])) {
      int v = 0;
      while (i < m.size() && is_digit(m[i])) v = v * 10 + (m[i++] - '0');
      nums.push_back(v);
    } else if (static_cast<unsigned char>(m[i]) >= 0x80 || std::isalpha(static_cast<unsigned char>(m[i]))) {
      size_t j = i;
      while (j < m.size() && (static_cast<unsigned char>(m[j]) >= 0x80 || std::isalpha(static_cast<unsigned char>(m[j])))) ++j;
      std::string w(m.substr(i, j - i));
      std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      for (int k = 0; k < 12 && !month_name; ++k)
        for (int a = 0; kMonths[k][a]; ++a) {
          std::string_view p = kMonths[k][a];
          if (w.rfind(p, 0) == 0) { month_name = k + 1; break; }
        }
      i = j;
    } else {
      ++i;
    }
  }
  auto year = [](int y) { return y < 100 ? (y < 30 ? 2000 + y : 1900 + y) : y; };
  if (month_name) return nums.size() == 2 && date_valid(nums[1], month_name, nums[0]);
  if (nums.size() != 3) return false;
  if (nums[0] >= 1000) return date_valid(nums[0], nums[1], nums[2]);
  return date_valid(year(nums[2]), nums[1], nums[0]) || date_valid(year(nums[2]), nums[0], nums[1]);
}

/// Prefixed tokens: the token ends where its alphabet ends, and it is not a placeholder.
bool check_token(std::string_view t, size_t& b, size_t& e) {
  if (b > 0 && (is_word(t[b - 1]) || t[b - 1] == '-')) return false;
  if (e < t.size() && (is_word(t[e]) || t[e] == '-')) return false;
  std::string_view m = t.substr(b, e - b);
  return count_digits(m) > 0 && entropy_ok(m, 3.0);
}

bool check_openai(std::string_view t, size_t& b, size_t& e) {
  return t.substr(b, 7) != "sk-ant-" && check_token(t, b, e);
}

bool check_aws_secret(std::string_view t, size_t& b, size_t& e) {
  auto b64 = [](char c) { return is_alnum(c) || c == '/' || c == '+' || c == '='; };
  if ((b > 0 && b64(t[b - 1])) || (e < t.size() && b64(t[e]))) return false;
  return entropy_ok(t.substr(b, e - b), 3.5);
}

bool check_jwt(std::string_view t, size_t& b, size_t& e) {
  if (b > 0 && (is_word(t[b - 1]) || t[b - 1] == '-' || t[b - 1] == '.')) return false;
  return jwt_header_ok(t.substr(b, e - b));
}

bool check_assignment(std::string_view t, size_t& b, size_t& e) {
  std::string_view v = t.substr(b, e - b);
  if (e < t.size() && std::strchr("([.", t[e])) return false;  // os.getenv(...), settings[...]
  if (v.find("://") != std::string_view::npos) return false;
  if (std::none_of(v.begin(), v.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; })) return false;
  bool identifier = std::isalpha(static_cast<unsigned char>(v[0])) || v[0] == '_';
  bool dotted = false, upper_snake = true;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '.') {
      dotted = true;
      if (i + 1 >= v.size() || !(std::isalpha(static_cast<unsigned char>(v[i + 1])) || v[i + 1] == '_')) identifier = false;
    } else if (!is_word(c)) {
      identifier = false;
    }
    if (!(std::isupper(static_cast<unsigned char>(c)) || is_digit(c) || c == '_')) upper_snake = false;
  }
  if (identifier && (dotted || (upper_snake && v.find('_') != std::string_view::npos))) return false;  // settings.API_KEY, OPENAI_API_KEY
  double len_bits = std::log2(static_cast<double>(v.size())) - 0.5;
  return entropy_ok(v, std::min(3.0, len_bits));
}

bool check_bearer(std::string_view t, size_t& b, size_t& e) {
  if (e < t.size() && is_word(t[e])) return false;
  return entropy_ok(t.substr(b, e - b), 3.0);
}

bool check_custom_luhn(std::string_view t, size_t& b, size_t& e) {
  std::string d = digits_of(t.substr(b, e - b));
  return d.size() >= 2 && luhn_valid(d);
}

bool check_custom_iban(std::string_view t, size_t& b, size_t& e) {
  std::string s(t.substr(b, e - b));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return iban_valid(s);
}

bool check_custom_entropy(std::string_view t, size_t& b, size_t& e) { return shannon_entropy(t.substr(b, e - b)) >= 3.0; }

// ---- patterns ----

const char* const kDate =
    R"((?:(?:19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|)"
    R"(\d{1,2}(?:\.|st|nd|rd|th)?\s(?:de\s)?\pL{3,10}\.?,?\s(?:de\s)?\d{4}|\pL{3,10}\.?\s\d{1,2}(?:st|nd|rd|th)?,?\s\d{4}))";

const char* const kDobContext =
    R"((?i)(?:\bborn(?:\s+on)?|\bDOB|\bD\.O\.B\.?|\bdate\s+of\s+birth|\bbirth\s?date|\bbirthday|\bGeburtsdatum|\bgeb\.|)"
    R"(\bgeboren(?:\s+am)?|\bfecha\s+de\s+nacimiento|\bnacid[oa](?:\s+el)?|\bdate\s+de\s+naissance|\bn[ée]e?\s+le|)"
    R"(\bdata\s+di\s+nascita|\bnat[oa]\s+il|\bgeboortedatum|\bgeboren\s+op|生年月日))";

const char* const kPhoneContext =
    R"((?i)(?:\bphone|\btel|\btelephone|\bmobile|\bcell|\bfax|\bwhatsapp|\bcall\s+me(?:\s+(?:at|on))?|\breach\s+me\s+(?:at|on)|)"
    R"(\btel[eé]fono|\bm[oó]vil|\bcellulare|\bhandy|\btelefon|\bt[eé]l[eé]phone|\bportable|\bmobiel|\bmobil|\bnumero|\bnúmero))";

}  // namespace

const std::vector<std::string>& builtin_detector_names() {
  static const std::vector<std::string> kNames = {"email", "phone", "card", "iban", "ssn", "ip", "mac", "url_credentials", "secret", "dob"};
  return kNames;
}

std::vector<Rule> builtin_rules(const std::vector<std::string>& detectors) {
  const std::string date = kDate;
  std::vector<Rule> all = {
      {"email", "email", "EMAIL",
       R"([A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})", 0, 80, check_email},
      {"url_credentials", "url_credentials", "URL_CREDENTIALS",
       R"(\b[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s/?#"'<>:]+:[^\s/?#"'<>]+)@[A-Za-z0-9\[])", 1, 95, check_url_credentials},
      {"card", "card", "CARD",
       R"(\d{13,19}|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{3}|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,4}|\d{4}[ -]\d{6}[ -]\d{4,5})", 0, 65, check_card},
      {"iban", "iban", "IBAN", R"([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)", 0, 70, check_iban},
      {"ssn", "ssn", "SSN", R"(\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})", 0, 60, check_ssn},
      {"ssn", "ssn.context", "SSN",
       R"((?i)\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?|soc\.?\s?sec\.?)[\s#:="'-]{0,6}(\d{9})\b)", 1, 60, check_ssn},
      {"ip", "ip.v4", "IP", R"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})", 0, 45, check_ipv4},
      {"ip", "ip.v6", "IP", R"([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3})", 0, 45, check_ipv6},
      {"mac", "mac", "MAC",
       R"([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})", 0, 50, check_mac},
      {"phone", "phone.e164", "PHONE", R"((?:\+|00)[1-9](?:[ .-]?\(?\d{1,6}\)?){1,7})", 0, 40, check_phone_e164},
      {"phone", "phone.nanp", "PHONE",
       R"((?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4})", 0, 40, check_phone_nanp},
      {"phone", "phone.national", "PHONE", R"(\(?0[1-9]\d{0,4}\)?(?:[ ./-]\d{2,8}){1,4})", 0, 40, check_phone_national},
      {"phone", "phone.context", "PHONE",
       std::string(kPhoneContext) + R"(\.?(?:\s+(?:number|no\.?|nr\.?|#))?\s*[:=]?\s*(\+?\(?\d{1,5}\)?(?:[ .-]?\d{1,8}){0,6}))", 1, 40,
       check_phone_context},
      {"dob", "dob", "DOB", std::string(kDobContext) + R"([^\n\d]{0,25}?()" + date + ")", 1, 55, check_dob},
      {"secret", "secret.private_key", "SECRET",
       R"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:(?s:.)*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*))",
       0, 100, nullptr},
      {"secret", "secret.aws_access_key_id", "SECRET", R"(\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA)[A-Z0-9]{16}\b)", 0, 100,
       nullptr},
      {"secret", "secret.aws_secret_access_key", "SECRET",
       R"((?i)aws.{0,20}?secret.{0,20}?[\s:="']\s*["']?([A-Za-z0-9/+]{40}))", 1, 100, check_aws_secret},
      {"secret", "secret.github", "SECRET", R"(gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})", 0, 100, check_token},
      {"secret", "secret.anthropic", "SECRET", R"(sk-ant-[A-Za-z0-9_-]{20,300})", 0, 100, check_token},
      {"secret", "secret.openai", "SECRET", R"(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300})", 0, 100, check_openai},
      {"secret", "secret.slack", "SECRET", R"(xox[abprs]-[A-Za-z0-9-]{10,250})", 0, 100, check_token},
      {"secret", "secret.stripe", "SECRET", R"((?:sk|rk|pk)_live_[A-Za-z0-9]{20,247})", 0, 100, check_token},
      {"secret", "secret.google_api_key", "SECRET", R"(AIza[0-9A-Za-z_-]{35})", 0, 100, check_token},
      {"secret", "secret.jwt", "SECRET", R"(ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)", 0, 100, check_jwt},
      {"secret", "secret.assignment", "SECRET",
       R"((?i)\b(?:[a-z0-9]+[_.-])*(?:password|passwd|pwd|passwort|kennwort|contrase(?:ñ|n)a|mot[_ -]de[_ -]passe|wachtwoord|senha|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?token|)"
       R"(access[_-]?token|refresh[_-]?token|token|client[_-]?secret)(?:[_-]?key)?["']?\s*(?:[:=]|=>)\s*["']?)"
       R"(([^\s"'`,;(){}\[\]<>$%\\][^\s"'`,;(){}\[\]<>%\\]{5,199}))",
       1, 90, check_assignment},
      {"secret", "secret.bearer", "SECRET", R"((?i)\bbearer\s+([A-Za-z0-9._~+/-]{12,}=*))", 1, 90, check_bearer},
  };
  std::vector<Rule> out;
  for (auto& r : all)
    if (std::find(detectors.begin(), detectors.end(), r.detector) != detectors.end()) out.push_back(std::move(r));
  return out;
}

Check custom_check(std::string_view validator) {
  if (validator == "luhn") return check_custom_luhn;
  if (validator == "iban") return check_custom_iban;
  if (validator == "entropy") return check_custom_entropy;
  return nullptr;
}

bool word_boundary_check(std::string_view t, size_t& b, size_t& e) {
  // A code point is a "letter" when it is ASCII alphanumeric or a non-ASCII character outside the
  // common punctuation blocks (Latin-1 punctuation, General Punctuation, CJK punctuation).
  auto letter = [](uint32_t cp) {
    if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0 || cp == '_';
    if (cp >= 0xA0 && cp <= 0xBF) return false;
    if (cp == 0xD7 || cp == 0xF7) return false;
    if (cp >= 0x2000 && cp <= 0x206F) return false;
    if (cp >= 0x3000 && cp <= 0x303F) return false;
    return true;
  };
  auto decode = [&](size_t i) {  // code point starting at byte i
    unsigned char c = static_cast<unsigned char>(t[i]);
    int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    for (int k = 1; k <= n && i + static_cast<size_t>(k) < t.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(t[i + static_cast<size_t>(k)]) & 0x3F);
    return cp;
  };
  if (b > 0) {
    size_t p = b - 1;
    while (p > 0 && (static_cast<unsigned char>(t[p]) & 0xC0) == 0x80) --p;
    if (letter(decode(p))) return false;
  }
  return e >= t.size() || !letter(decode(e));
}

}  // namespace slmify::scrub_rules
