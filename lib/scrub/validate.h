// Checks that a detector's candidate match really is what its shape suggests: check digits (Luhn,
// ISO 13616 mod-97), number ranges (SSN, IPv4 octets, dates), IPv6 grammar, Shannon entropy and a
// JWT header that decodes to JSON with "alg". Pure functions on text; no regex here.
// Tested against published vectors by tests/scrub/test_detect.cpp.
#pragma once

#include <string>
#include <string_view>

namespace slmify {

/// The decimal digits of `s` in order, everything else dropped ("4111-1111" -> "41111111").
std::string digits_of(std::string_view s);

/// Luhn (mod 10) check over the digits of `s`, ignoring spaces and dashes; false when `s` has no
/// digits or any other character.
bool luhn_valid(std::string_view s);

/// Payment card: 13-19 digits, a known network prefix (Visa, Mastercard, Amex, Discover, JCB,
/// Diners, UnionPay, Maestro) with a length that network issues, and a valid Luhn check digit.
/// Separators must be one kind of space or dash.
bool card_valid(std::string_view s);

/// Expected IBAN length for an ISO 3166 country code from the IBAN registry, or 0 when the
/// country does not use IBANs.
int iban_length(std::string_view country);

/// IBAN per ISO 13616: known country, that country's length, alphanumeric, and the mod-97
/// remainder of the rearranged number equal to 1. Spaces are ignored; letters must be upper case.
bool iban_valid(std::string_view s);

/// US Social Security number "AAA-GG-SSSS", "AAA GG SSSS" or "AAAGGSSSS": area not 000, 666 or
/// 900-999; group not 00; serial not 0000.
bool ssn_valid(std::string_view s);

/// Dotted-quad IPv4: four decimal octets 0-255 without leading zeros ("010" is rejected).
bool ipv4_valid(std::string_view s);

/// IPv6 text form (RFC 4291 section 2.2): eight groups of 1-4 hex digits, at most one "::"
/// standing for one or more zero groups, optionally ending in a dotted-quad IPv4.
bool ipv6_valid(std::string_view s);

/// Shannon entropy of the byte distribution of `s`, in bits per byte (0 for an empty string).
double shannon_entropy(std::string_view s);

/// True when `s` looks like a real secret value rather than a placeholder: at least `min_bits`
/// bits per byte of entropy and not an obvious placeholder (xxxx, ****, <...>, "changeme", ...).
bool entropy_ok(std::string_view s, double min_bits);

/// Decodes base64url (RFC 4648 section 5; padding optional); false on a character outside the
/// alphabet or an impossible length.
bool base64url_decode(std::string_view s, std::string& out);

/// A JWT's first part base64url-decodes to a JSON object with a string "alg" member.
bool jwt_header_ok(std::string_view token);

/// A calendar date: month 1-12, day within the month (leap years honoured), year 1900-2099.
bool date_valid(int year, int month, int day);

}  // namespace slmify
