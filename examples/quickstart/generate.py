#!/usr/bin/env python3
"""Writes examples/quickstart/logs/: ten days of logged LLM calls of the (fictional) Kestrel
Outfitters customer-support agents, the input of the slmify quick start.

Deterministic: a fixed seed, no wall clock, no environment, stdlib only (Python 3.11+), gzip
with mtime 0. Running it twice gives byte-identical files. Prints the counts that
examples/quickstart/README.md quotes.

    python3 examples/quickstart/generate.py [--out DIR]

Every simulated LLM answer is derived from the facts the prompt states (queue and priority from
the issue type and the routing policy in the system prompt, the extracted JSON from the ticket's
facts, the SQL from the question template, the email from the template and the order record), so
that small models can learn the tasks. The planner's plans are free text drawn at random, the least
learnable task. Personal data and secrets are planted on purpose (fake values, Luhn-valid card
numbers, IBANs with valid check digits, documentation IP ranges) for the scrub stage to find.
"""

import argparse
import datetime as dt
import gzip
import io
import json
import os
import random
import shutil
import string
from collections import Counter

SEED = 20261128
HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# random helpers: one seeded RNG per concern
# ---------------------------------------------------------------------------------------------


def rng_for(name):
    return random.Random(f"{SEED}/{name}")


ALNUM = string.ascii_letters + string.digits


def rand_str(r, n, alphabet=ALNUM):
    return "".join(r.choice(alphabet) for _ in range(n))


def chatcmpl_id(r):
    return "chatcmpl-" + rand_str(r, 29)


def call_id(r):
    return "call_" + rand_str(r, 24)


def msg_id(r):
    return "msg_01" + rand_str(r, 22)


def toolu_id(r):
    return "toolu_01" + rand_str(r, 22)


def req_id(r):
    return "req_011C" + rand_str(r, 20)


def weighted(r, pairs):
    """pairs: list of (value, weight)."""
    total = sum(w for _, w in pairs)
    x = r.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


# ---------------------------------------------------------------------------------------------
# time: 2026-11-20 00:00 to 2026-11-29 24:00 UTC, busier in office hours and on weekdays
# ---------------------------------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
DAYS = 10
T_END = T0 + dt.timedelta(days=DAYS)
HOUR_W = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1]


def rand_time(r, lo=T0, hi=T_END - dt.timedelta(hours=2)):
    """A time between lo and hi, weighted by hour of day and weekday."""
    while True:
        t = lo + dt.timedelta(seconds=r.random() * (hi - lo).total_seconds())
        w = HOUR_W[t.hour] / 10 * (0.5 if t.weekday() >= 5 else 1.0)
        if r.random() < w:
            return t.replace(microsecond=r.randrange(1000) * 1000)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def unix(t):
    return int(t.timestamp())


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONATE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember"]
MESES = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
         "octubre", "noviembre", "diciembre"]


def day_month(d, lang="en"):
    if lang == "de":
        return f"{d.day}. {MONATE[d.month - 1]}"
    if lang == "es":
        return f"{d.day} de {MESES[d.month - 1]}"
    if lang == "ja":
        return f"{d.month}月{d.day}日"
    return f"{d.day} {MONTHS[d.month - 1]}"


def long_date(d):
    return f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}"


# ---------------------------------------------------------------------------------------------
# personal data (all invented; card numbers are network test numbers or random Luhn-valid
# numbers, IBANs have valid check digits, IPs come from the documentation ranges)
# ---------------------------------------------------------------------------------------------

class PII:
    """Every planted value, by kind, so that the counts can be reported."""

    def __init__(self):
        self.values = []  # (kind, value)
        self.subs = []  # (kind, finer kind: phone format, card origin, IBAN country)

    def add(self, kind, value, sub=None):
        self.values.append((kind, value))
        self.subs.append((kind, sub or ""))
        return value


PIIS = PII()


def luhn_check_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(num):
    return luhn_check_digit(num[:-1]) == num[-1]


# published test numbers of the card networks (Visa, Mastercard, Amex, Discover, JCB, Diners)
TEST_CARDS = ["4111111111111111", "4242424242424242", "4012888888881881", "5555555555554444",
              "5105105105105100", "2223003122003222", "378282246310005", "371449635398431",
              "6011111111111117", "3530111333300000", "36227206271667"]


def card_number(r):
    if r.random() < 0.45:
        num = r.choice(TEST_CARDS)
        origin = "network test number"
    else:
        prefix, length = weighted(r, [(("4", 16), 5), (("5" + str(r.randint(1, 5)), 16), 4),
                                      (("3" + r.choice("47"), 15), 1)])
        body = prefix + "".join(str(r.randrange(10)) for _ in range(length - len(prefix) - 1))
        num = body + luhn_check_digit(body)
        origin = "generated Luhn-valid"
    assert luhn_valid(num)
    style = r.random()
    if len(num) == 15:  # Amex 4-6-5
        text = f"{num[:4]} {num[4:10]} {num[10:]}" if style < 0.7 else num
    elif len(num) == 14:  # Diners 4-6-4
        text = f"{num[:4]} {num[4:10]} {num[10:]}" if style < 0.7 else num
    elif style < 0.5:
        text = " ".join(num[i:i + 4] for i in range(0, 16, 4))
    elif style < 0.75:
        text = "-".join(num[i:i + 4] for i in range(0, 16, 4))
    else:
        text = num
    return PIIS.add("card", text, origin)


IBAN_SPECS = {  # country: (bban generator)
    "DE": lambda r: "".join(str(r.randrange(10)) for _ in range(18)),
    "GB": lambda r: r.choice(["NWBK", "BARC", "LOYD", "MIDL", "HBUK"]) + "".join(str(r.randrange(10)) for _ in range(14)),
    "ES": lambda r: "".join(str(r.randrange(10)) for _ in range(20)),
    "FR": lambda r: "".join(str(r.randrange(10)) for _ in range(23)),
    "NL": lambda r: r.choice(["ABNA", "INGB", "RABO", "TRIO"]) + "".join(str(r.randrange(10)) for _ in range(10)),
    "IE": lambda r: r.choice(["AIBK", "BOFI"]) + "".join(str(r.randrange(10)) for _ in range(14)),
}


def iban_check(country, bban):
    s = bban + country + "00"
    num = "".join(str(int(c, 36)) for c in s)
    return f"{98 - int(num) % 97:02d}"


def iban_valid(iban):
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def iban(r, country):
    if country not in IBAN_SPECS:
        country = r.choice(["DE", "GB", "ES", "FR", "NL"])
    bban = IBAN_SPECS[country](r)
    raw = country + iban_check(country, bban) + bban
    assert iban_valid(raw)
    text = " ".join(raw[i:i + 4] for i in range(0, len(raw), 4)) if r.random() < 0.6 else raw
    return PIIS.add("iban", text, country)


B62 = string.ascii_letters + string.digits


def openai_key(r):
    key = "sk-proj-" + rand_str(r, 40, B62 + "_-") + "T3BlbkFJ" + rand_str(r, 40, B62 + "_-")
    return PIIS.add("openai_api_key", key)


def aws_key(r):
    return PIIS.add("aws_access_key_id", "AKIA" + rand_str(r, 16, string.ascii_uppercase + "234567"))


def aws_secret(r):
    return PIIS.add("aws_secret_access_key", rand_str(r, 40, B62 + "+/"))


def github_token(r):
    return PIIS.add("github_token", "ghp_" + rand_str(r, 36, B62))


def ipv4(r):
    net = r.choice(["192.0.2", "198.51.100", "203.0.113"])
    return PIIS.add("ipv4", f"{net}.{r.randint(1, 254)}")


def ipv6(r):
    groups = [f"{r.randrange(65536):x}" for _ in range(6)]
    if r.random() < 0.5:
        text = "2001:db8:" + ":".join(groups)
    else:
        text = "2001:db8:" + ":".join(groups[:2]) + "::" + groups[2]
    return PIIS.add("ipv6", text)


DOMAINS = {
    "US": [("gmail.com", 6), ("yahoo.com", 2), ("outlook.com", 2), ("icloud.com", 2), ("proton.me", 1)],
    "GB": [("gmail.com", 5), ("hotmail.co.uk", 2), ("btinternet.com", 1), ("outlook.com", 2), ("icloud.com", 1)],
    "DE": [("gmail.com", 3), ("web.de", 3), ("gmx.de", 3), ("t-online.de", 1), ("posteo.de", 1)],
    "FR": [("gmail.com", 4), ("orange.fr", 2), ("free.fr", 1), ("laposte.net", 1)],
    "NL": [("gmail.com", 4), ("ziggo.nl", 2), ("kpnmail.nl", 1), ("outlook.com", 1)],
    "ES": [("gmail.com", 5), ("hotmail.es", 2), ("telefonica.net", 1), ("yahoo.es", 1)],
    "IE": [("gmail.com", 4), ("eircom.net", 1), ("outlook.com", 2)],
    "JP": [("gmail.com", 3), ("docomo.ne.jp", 1), ("yahoo.co.jp", 2), ("icloud.com", 1)],
}


def email_addr(r, first, last, kind="personal", country="US", company_domain=None):
    f = ascii_fold(first).lower().replace(" ", "")
    l = ascii_fold(last).lower().replace(" ", "").replace("'", "")
    if kind == "work":
        local = f"{f[0]}.{l}" if r.random() < 0.5 else f
        domain = company_domain or r.choice(sorted(COMPANIES.values()))
    else:
        local = weighted(r, [(f"{f}.{l}", 4), (f"{f}{l[0]}", 2), (f"{f}.{l}{r.randint(1, 99)}", 3),
                             (f"{f[0]}{l}{r.randint(70, 99)}", 2), (f"{l}.{f}", 1)])
        domain = weighted(r, DOMAINS[country])
    return PIIS.add("email", f"{local}@{domain}")


def ascii_fold(s):
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "á": "a", "í": "i", "ó": "o",
             "ú": "u", "ñ": "n", "ç": "c", "ë": "e", "ï": "i", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "É": "E",
             "Á": "A", "Ó": "O", "Ú": "U", "Í": "I", "Ñ": "N"}
    return "".join(table.get(c, c) for c in s)


def digits(r, n):
    return "".join(str(r.randrange(10)) for _ in range(n))


def phone(r, country):
    """A phone number as a customer would write it: national or international, E.164 at times."""
    style = weighted(r, [("national", 5), ("international", 3), ("e164", 3)])
    if country == "US":
        area = r.choice(["415", "212", "312", "206", "617", "512", "303"])
        line = f"01{r.randint(0, 99):02d}"  # 555-0100..0199 are reserved for fiction
        text = {"national": r.choice([f"({area}) 555-{line}", f"{area}-555-{line}", f"{area}.555.{line}"]),
                "international": f"+1 {area} 555 {line}",
                "e164": f"+1{area}555{line}"}[style]
    elif country == "GB":
        if r.random() < 0.5:
            n = f"{r.randint(0, 999):03d}"
            text = {"national": f"020 7946 0{n}", "international": f"+44 20 7946 0{n}", "e164": f"+442079460{n}"}[style]
        else:
            n = f"{r.randint(0, 999):03d}"
            text = {"national": f"07700 900{n}", "international": f"+44 7700 900{n}", "e164": f"+447700900{n}"}[style]
    elif country == "DE":
        if r.random() < 0.5:
            n = digits(r, 8)
            text = {"national": f"030 {n}", "international": f"+49 30 {n}", "e164": f"+4930{n}"}[style]
        else:
            pre, n = r.choice(["151", "160", "170", "176"]), digits(r, 8)
            text = {"national": f"0{pre} {n[:4]} {n[4:]}", "international": f"+49 {pre} {n}", "e164": f"+49{pre}{n}"}[style]
    elif country == "FR":
        lead = r.choice(["1", "6", "7"])
        p = [digits(r, 2) for _ in range(4)]
        text = {"national": f"0{lead} {' '.join(p)}", "international": f"+33 {lead} {' '.join(p)}",
                "e164": f"+33{lead}{''.join(p)}"}[style]
    elif country == "ES":
        lead = r.choice(["6", "7", "91"])
        n = digits(r, 9 - len(lead))
        full = lead + n
        text = {"national": f"{full[:3]} {full[3:6]} {full[6:]}", "international": f"+34 {full[:3]} {full[3:6]} {full[6:]}",
                "e164": f"+34{full}"}[style]
    elif country == "NL":
        if r.random() < 0.5:
            n = digits(r, 7)
            text = {"national": f"020 {n[:3]} {n[3:]}", "international": f"+31 20 {n[:3]} {n[3:]}", "e164": f"+3120{n}"}[style]
        else:
            n = digits(r, 8)
            text = {"national": f"06 {n}", "international": f"+31 6 {n}", "e164": f"+316{n}"}[style]
    elif country == "IE":
        n = digits(r, 7)
        text = {"national": f"086 {n[:3]} {n[3:]}", "international": f"+353 86 {n[:3]} {n[3:]}", "e164": f"+35386{n}"}[style]
    else:  # JP
        if r.random() < 0.5:
            a, b = digits(r, 4), digits(r, 4)
            text = {"national": f"03-{a}-{b}", "international": f"+81 3-{a}-{b}", "e164": f"+813{a}{b}"}[style]
        else:
            pre, a, b = r.choice(["090", "080", "070"]), digits(r, 4), digits(r, 4)
            text = {"national": f"{pre}-{a}-{b}", "international": f"+81 {pre[1:]}-{a}-{b}", "e164": f"+81{pre[1:]}{a}{b}"}[style]
    return PIIS.add("phone", text, f"{country} {style}")


# ---------------------------------------------------------------------------------------------
# the shop: customers, products, orders
# ---------------------------------------------------------------------------------------------

NAMES = {
    "US": (["Emily", "Jacob", "Madison", "Tyler", "Olivia", "Ethan", "Hannah", "Brandon", "Ashley", "Marcus",
            "Keisha", "Diego", "Rachel", "Kevin", "Megan", "Andre", "Lauren", "Nathan", "Priya", "Connor"],
           ["Carter", "Nguyen", "Brooks", "Ramirez", "Hughes", "Sullivan", "Patel", "Coleman", "Bennett", "Foster",
            "Whitaker", "Delgado", "Hayes", "Kowalski", "Price", "Jenkins", "Okafor", "Reyes", "Morgan", "Fischer"]),
    "GB": (["Oliver", "Amelia", "Harry", "Isla", "George", "Poppy", "Jack", "Freya", "Alfie", "Imogen", "Rhys", "Niamh",
            "Callum", "Eleanor", "Aisha"],
           ["Whitfield", "Ashworth", "Pembroke", "Holloway", "Thornton", "Baxter", "Kendrick", "Marsh", "Lowry",
            "Fairbairn", "Hussain", "Doyle", "Ellison", "Rowntree", "Chaudhry"]),
    "DE": (["Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Leon", "Sophie", "Paul", "Julia", "Tobias", "Katrin",
            "Jürgen", "Sabine"],
           ["Schneider", "Becker", "Wagner", "Hoffmann", "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Neumann",
            "Schröder", "Zimmermann", "Braun", "Krüger"]),
    "FR": (["Camille", "Louis", "Chloé", "Hugo", "Manon", "Jules", "Léa", "Arthur", "Inès", "Théo"],
           ["Dubois", "Lefebvre", "Moreau", "Laurent", "Girard", "Fontaine", "Mercier", "Blanc", "Garnier", "Rousseau"]),
    "NL": (["Sanne", "Daan", "Fleur", "Bram", "Lotte", "Thijs", "Noor", "Sem", "Eva", "Ruben"],
           ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos"]),
    "ES": (["Lucía", "Mateo", "Sofía", "Hugo", "Martina", "Pablo", "Valeria", "Álvaro", "Carmen", "Javier"],
           ["García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres", "Ruiz", "Moreno"]),
    "IE": (["Aoife", "Cian", "Siobhán", "Darragh", "Orla", "Eoin", "Ciara", "Fionn"],
           ["Murphy", "Kelly", "O'Brien", "Byrne", "Walsh", "Ryan", "Doherty", "Gallagher"]),
    "JP": ([("Yuki", "由紀"), ("Haruto", "陽翔"), ("Aoi", "葵"), ("Sota", "蒼太"), ("Mei", "芽衣"), ("Ren", "蓮"),
            ("Hina", "陽菜"), ("Kenji", "健二")],
           [("Tanaka", "田中"), ("Sato", "佐藤"), ("Suzuki", "鈴木"), ("Takahashi", "高橋"), ("Watanabe", "渡辺"),
            ("Ito", "伊藤"), ("Yamamoto", "山本"), ("Nakamura", "中村")]),
}
COUNTRY_W = [("US", 36), ("GB", 17), ("DE", 14), ("FR", 6), ("NL", 5), ("ES", 8), ("IE", 4), ("JP", 6)]
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR", "IE": "EUR", "JP": "JPY"}
CITIES = {"US": [("San Francisco", "CA 94110"), ("Chicago", "IL 60614"), ("Seattle", "WA 98103"), ("Austin", "TX 78704"), ("Boston", "MA 02116")],
          "GB": [("London", "N1 7GU"), ("Manchester", "M4 1HN"), ("Bristol", "BS1 5TR"), ("Leeds", "LS6 2AB")],
          "DE": [("Berlin", "10405"), ("München", "80331"), ("Hamburg", "20095"), ("Köln", "50667")],
          "FR": [("Paris", "75011"), ("Lyon", "69003"), ("Nantes", "44000")],
          "NL": [("Amsterdam", "1015 BS"), ("Utrecht", "3511 LX"), ("Rotterdam", "3011 AD")],
          "ES": [("Madrid", "28004"), ("Barcelona", "08012"), ("Valencia", "46001")],
          "IE": [("Dublin", "D08 X2Y3"), ("Cork", "T12 K8AF")],
          "JP": [("Tokyo", "150-0001"), ("Osaka", "530-0001")]}
STREETS = {"US": ["Maple Avenue", "Oak Street", "Pine Street", "Lakeview Drive", "Cedar Lane"],
           "GB": ["Harbour Road", "Mill Lane", "Station Road", "Church Street", "Victoria Terrace"],
           "IE": ["Main Street", "Harbour Road", "Church Lane"],
           "DE": ["Bergstraße", "Hauptstraße", "Lindenallee", "Gartenweg", "Schillerstraße"],
           "FR": ["Rue des Lilas", "Avenue Jean Jaurès", "Rue de la Paix"],
           "NL": ["Keizersgracht", "Prinsengracht", "Dorpsstraat", "Kerkstraat"],
           "ES": ["Calle Mayor", "Calle de Alcalá", "Avenida del Puerto"],
           "JP": ["Jingumae 4-chome", "Umeda 2-chome", "Shibuya 1-chome"]}

PRODUCTS = [  # name, sku, USD price, category
    ("Ridgeline 45L Backpack", "KO-BP-045", 189, "packs"),
    ("Packable Daypack 20L", "KO-BP-020", 59, "packs"),
    ("Stormshell Rain Jacket", "KO-JK-210", 229, "clothing"),
    ("Merino Base Layer Top", "KO-BL-015", 79, "clothing"),
    ("Thermal Fleece Hoodie", "KO-FL-120", 99, "clothing"),
    ("Trailrunner GTX Shoes", "KO-SH-330", 159, "footwear"),
    ("Canyon Hiking Boots", "KO-BO-550", 219, "footwear"),
    ("Basecamp 2P Tent", "KO-TN-002", 349, "camping"),
    ("Aurora Down Sleeping Bag", "KO-SB-120", 279, "camping"),
    ("Camp Stove Micro", "KO-ST-030", 69, "camping"),
    ("Summit Trekking Poles", "KO-TP-010", 89, "accessories"),
    ("Glacier Insulated Bottle 1L", "KO-BT-100", 39, "accessories"),
    ("Headlamp Lumen 400", "KO-HL-400", 49, "electronics"),
    ("Solar Power Bank 20000mAh", "KO-PB-200", 99, "electronics"),
    ("TrailSync GPS Watch", "KO-GW-300", 299, "electronics"),
]
SIZED = {"Stormshell Rain Jacket", "Merino Base Layer Top", "Thermal Fleece Hoodie", "Trailrunner GTX Shoes",
         "Canyon Hiking Boots"}


def price(usd, cur):
    if cur == "USD":
        return float(usd)
    if cur == "EUR":
        return float(usd)
    if cur == "GBP":
        return float(round(usd * 0.87))
    return int(round(usd * 153, -2))  # JPY


def money(amount, cur, lang="en", r=None):
    """The way a customer writes an amount."""
    if cur == "JPY":
        if lang == "ja":
            return f"{amount:,}円" if r and r.random() < 0.5 else f"¥{amount:,}"
        return f"¥{amount:,}"
    if lang in ("de", "es"):
        s = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        return f"{s} €"
    sym = {"USD": "$", "GBP": "£", "EUR": "€"}[cur]
    if r and cur == "EUR" and r.random() < 0.3:
        return f"EUR {amount:.2f}"
    return f"{sym}{amount:,.2f}"


def money_plain(amount, cur):
    """The way the shop writes an amount in English."""
    if cur == "JPY":
        return f"¥{amount:,}"
    return {"USD": "$", "GBP": "£", "EUR": "€"}[cur] + f"{amount:,.2f}"


class Customer:
    def __init__(self, r, country=None):
        self.country = country or weighted(r, COUNTRY_W)
        firsts, lasts = NAMES[self.country]
        f, l = r.choice(firsts), r.choice(lasts)
        if self.country == "JP":
            self.first, self.last = f[0], l[0]
            self.kanji = f"{l[1]} {f[1]}"
        else:
            self.first, self.last = f, l
            self.kanji = None
        self.name = f"{self.first} {self.last}"
        self.currency = CURRENCY[self.country]
        self.customer_id = f"C-{r.randint(10000, 99999)}"
        self._email = None
        self._phone = None
        self.r = r
        city, post = r.choice(CITIES[self.country])
        self.address = {"line1": street_line(r, self.country), "city": city, "postcode": post,
                        "country": self.country}
        self.tier = weighted(r, [("standard", 7), ("silver", 2), ("gold", 1)])

    @property
    def email(self):
        if self._email is None:
            self._email = email_addr(self.r, self.first, self.last, country=self.country)
        return self._email

    @property
    def phone(self):
        if self._phone is None:
            self._phone = phone(self.r, self.country)
        return self._phone


def street_line(r, country):
    street, n = r.choice(STREETS[country]), r.randint(1, 180)
    if country in ("DE", "NL", "ES"):
        return f"{street} {n}"
    if country == "JP":
        return f"{street} {r.randint(1, 30)}-{r.randint(1, 20)}"
    return f"{n} {street}"


COUNTRY_LINE = {"US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France", "NL": "Netherlands",
                "ES": "Spain", "IE": "Ireland", "JP": "Japan"}


def postal_address(name, a):
    if a["country"] == "US":
        city = f"{a['city']}, {a['postcode']}"
    elif a["country"] in ("GB", "IE", "JP"):
        city = f"{a['city']} {a['postcode']}"
    else:
        city = f"{a['postcode']} {a['city']}"
    return f"{name}\n{a['line1']}\n{city}\n{COUNTRY_LINE[a['country']]}"


def order_id(r):
    return str(r.randint(4700000, 4899999))


def tracking(r, carrier):
    if carrier == "UPS":
        return "1Z" + rand_str(r, 6, string.ascii_uppercase + string.digits) + digits(r, 10)
    if carrier == "DHL":
        return "JD01" + digits(r, 16)
    if carrier == "Royal Mail":
        return rand_str(r, 2, string.ascii_uppercase) + digits(r, 9) + "GB"
    if carrier == "Yamato":
        return digits(r, 12)
    return digits(r, 14)


CARRIERS = {"US": ["UPS", "FedEx", "USPS"], "GB": ["Royal Mail", "DPD", "UPS"], "DE": ["DHL", "DPD", "Hermes"],
            "FR": ["Colissimo", "DPD"], "NL": ["PostNL", "DHL"], "ES": ["Correos", "SEUR"], "IE": ["An Post", "DPD"],
            "JP": ["Yamato", "Sagawa"]}


# ---------------------------------------------------------------------------------------------
# tickets: issue types, routing policy, text templates in four languages
# ---------------------------------------------------------------------------------------------

# issue type -> (queue, base priority)
ISSUES = {
    "double_charge": ("billing", "high"),
    "refund_status": ("billing", "normal"),
    "invoice_request": ("billing", "low"),
    "payment_failed": ("billing", "normal"),
    "late_delivery": ("shipping", "normal"),
    "lost_parcel": ("shipping", "high"),
    "wrong_address": ("shipping", "normal"),
    "damaged_item": ("returns", "normal"),
    "return_request": ("returns", "low"),
    "exchange_size": ("returns", "low"),
    "login_problem": ("account", "normal"),
    "account_deletion": ("account", "normal"),
    "email_change": ("account", "low"),
    "security_report": ("account", "high"),
    "device_pairing": ("technical", "normal"),
    "api_error": ("technical", "high"),
    "product_question": ("product", "low"),
}
ISSUE_W = [("double_charge", 8), ("refund_status", 9), ("invoice_request", 4), ("payment_failed", 5),
           ("late_delivery", 12), ("lost_parcel", 6), ("wrong_address", 4), ("damaged_item", 8),
           ("return_request", 9), ("exchange_size", 6), ("login_problem", 6), ("account_deletion", 3),
           ("email_change", 3), ("security_report", 2), ("device_pairing", 6), ("api_error", 6),
           ("product_question", 8)]
TRANSLATED = ["double_charge", "refund_status", "late_delivery", "lost_parcel", "damaged_item", "return_request",
              "login_problem", "product_question"]

# English: subjects, problem statements, optional details, requests. {x} are facts.
EN = {
    "double_charge": {
        "subject": ["Charged twice for order {order_id}", "Double charge on my card", "Two payments for one order",
                    "Duplicate payment - order #{order_id}", "Billing error"],
        "problem": ["I was charged twice for order {order_id}: two payments of {amount} for the {product}.",
                    "My bank statement shows two charges of {amount} for the same order ({order_id}).",
                    "You took {amount} from my card twice for my {product} order.",
                    "I placed one order (#{order_id}) but the payment of {amount} went through two times.",
                    "There are two identical charges of {amount} on my account from your shop, but I only bought one {product}."],
        "detail": ["Both charges are dated {date}.", "The second charge appeared a day after the first one.",
                   "I only clicked the pay button once."],
        "ask": ["Please refund the second payment.", "Can you reverse one of the charges?",
                "I'd like the duplicate refunded.", "Please sort this out and refund the extra charge."],
        "pii": ["card", "card", "phone"],
    },
    "refund_status": {
        "subject": ["Where is my refund?", "Refund for order {order_id} not received", "Refund still pending",
                    "Still waiting for my money back"],
        "problem": ["I returned the {product} from order {order_id} two weeks ago and still have not received the refund of {amount}.",
                    "Your email on {date} said my refund of {amount} was approved, but nothing has arrived yet.",
                    "I sent back order #{order_id} and the tracking shows you received it on {date}, but no refund so far.",
                    "It has been more than 14 days since my return of the {product} arrived and the {amount} is still not back on my card."],
        "detail": ["My bank says nothing is pending.", "The return was accepted according to your website.",
                   "I used the prepaid label from your email."],
        "ask": ["When will I get my money?", "Please check what happened to the refund.",
                "Could you send me a confirmation that the refund was issued?", "Please refund me as soon as you can."],
        "pii": ["iban", "iban", "phone", "card"],
    },
    "invoice_request": {
        "subject": ["Invoice for order {order_id}", "VAT invoice needed", "Request for an invoice copy"],
        "problem": ["Could you send me a VAT invoice for order {order_id}? I need it for my expense report.",
                    "I need an invoice with my company name for the {product} I bought ({order_id}).",
                    "The invoice for order #{order_id} is missing from my account page."],
        "detail": ["The company name is {company}.", "Our VAT number is {vat}."],
        "ask": ["Please email it to me.", "A PDF is fine.", "Thank you for your help."],
        "pii": ["phone"],
    },
    "payment_failed": {
        "subject": ["Payment declined", "Can't pay for my order", "Payment error at checkout"],
        "problem": ["My payment of {amount} for the {product} keeps getting declined at checkout.",
                    "Checkout fails with 'payment could not be processed' when I try to pay {amount}.",
                    "I tried to pay for order {order_id} three times and every time the payment failed, although my card works elsewhere."],
        "detail": ["My bank says they did not block anything.", "I tried both the app and the website.",
                   "The order now shows 'awaiting payment'."],
        "ask": ["Can you check what is wrong?", "Please keep the order for me while I sort this out.",
                "Is there another way to pay?"],
        "pii": ["card", "card", "ipv4"],
    },
    "late_delivery": {
        "subject": ["Order {order_id} not delivered yet", "Where is my order?", "Late delivery", "Delivery delayed",
                    "Still waiting for my {product}"],
        "problem": ["My order {order_id} was supposed to arrive on {date} and it still has not come.",
                    "I ordered the {product} on {date} and the delivery is now {days} days late.",
                    "The tracking for order #{order_id} has said 'in transit' for {days} days.",
                    "My {product} (order {order_id}) has not arrived, and the estimated delivery date has passed."],
        "detail": ["The {carrier} tracking has not updated since {date}.", "I need it for a trip next week.",
                   "The tracking number is {tracking}."],
        "ask": ["Can you tell me where it is?", "Please check with the carrier.", "When can I expect it?",
                "Please let me know what is going on."],
        "pii": ["phone", "phone"],
    },
    "lost_parcel": {
        "subject": ["Parcel lost", "Tracking says delivered but nothing arrived", "Missing package - order {order_id}"],
        "problem": ["The tracking says order {order_id} was delivered on {date}, but I never received it.",
                    "{carrier} marked my parcel as delivered, but there is nothing at my door or with my neighbours.",
                    "My parcel with the {product} seems to be lost: no tracking updates for {days} days and {carrier} cannot find it."],
        "detail": ["I have checked with all my neighbours.", "The tracking number is {tracking}.",
                   "The order was worth {amount}."],
        "ask": ["Please send a replacement or refund me.", "What can you do?", "I would like a replacement as soon as possible."],
        "pii": ["phone", "phone"],
    },
    "wrong_address": {
        "subject": ["Wrong delivery address", "Please change the shipping address", "Address mistake on order {order_id}"],
        "problem": ["I entered the wrong delivery address for order {order_id}.",
                    "I moved last week and order #{order_id} is going to my old address.",
                    "The shipping address on my {product} order is missing the flat number."],
        "detail": ["The correct address is {address}.", "It has not shipped yet according to my account."],
        "ask": ["Can you update it before it ships?", "Please change the address.", "Can you redirect the parcel?"],
        "pii": ["phone"],
    },
    "damaged_item": {
        "subject": ["Item arrived damaged", "Broken {product}", "Damaged delivery - order {order_id}", "Faulty product"],
        "problem": ["The {product} from order {order_id} arrived damaged: {damage}.",
                    "My {product} arrived today and {damage}.",
                    "I just unpacked order #{order_id} and the {product} is broken ({damage})."],
        "detail": ["I have photos if you need them.", "The box was already crushed on arrival.",
                   "I paid {amount} for it."],
        "ask": ["I'd like a replacement.", "Please tell me how to return it.", "Can you send a new one?",
                "I want a refund."],
        "pii": ["phone", "iban"],
    },
    "return_request": {
        "subject": ["Return request", "I want to return my order", "Return for order {order_id}"],
        "problem": ["I would like to return the {product} from order {order_id}; it is not what I expected.",
                    "I want to send back the {product}. It's unused and still in the original packaging.",
                    "Please start a return for order #{order_id}, I changed my mind about the {product}."],
        "detail": ["I bought it on {date}.", "It cost {amount}."],
        "ask": ["How do I get a return label?", "Please send me the return instructions.", "Can I have a refund?"],
        "pii": ["iban", "phone"],
    },
    "exchange_size": {
        "subject": ["Exchange for a different size", "Wrong size", "Size exchange - order {order_id}"],
        "problem": ["The {product} from order {order_id} is too small; I need size {size} instead.",
                    "Can I exchange the {product} for a size {size}? The one I got is too big.",
                    "I ordered the wrong size of the {product} (order #{order_id}) and would like to swap it for {size}."],
        "detail": ["It has not been worn.", "The tags are still on."],
        "ask": ["How does the exchange work?", "Please send me the right size.", "Thanks for helping."],
        "pii": ["phone"],
    },
    "login_problem": {
        "subject": ["Can't log in", "Password reset not working", "Locked out of my account"],
        "problem": ["I can't log in to my account; the password reset email never arrives.",
                    "My account is locked after too many attempts and the unlock link has expired.",
                    "The app keeps saying 'invalid credentials' even after I reset my password twice."],
        "detail": ["My IP address is {ip}, in case you are blocking it.", "I tried from my phone and my laptop.",
                   "I checked the spam folder."],
        "ask": ["Please help me get back into my account.", "Can you unlock it?", "What should I do?"],
        "pii": ["phone", "ipv4"],
    },
    "account_deletion": {
        "subject": ["Delete my account", "GDPR deletion request", "Please remove my data"],
        "problem": ["Please delete my Kestrel account and all personal data you hold about me.",
                    "Under GDPR Article 17 I request the deletion of my account and my data.",
                    "I no longer want an account with you. Please close it and erase my details."],
        "detail": ["I have no open orders.", "Please also unsubscribe me from all newsletters."],
        "ask": ["Please confirm when it is done.", "Thank you.", "I expect a confirmation in writing."],
        "pii": ["phone"],
    },
    "email_change": {
        "subject": ["Change my email address", "New email for my account", "Update contact email"],
        "problem": ["Please change the email address on my account to {new_email}.",
                    "I have a new email address, {new_email}; can you update my account?",
                    "My old email address will be closed soon. Please use {new_email} from now on."],
        "detail": ["My customer number is {customer_id}.", "I can't change it myself in the app."],
        "ask": ["Thanks!", "Please confirm the change.", "Thank you in advance."],
        "pii": [],
    },
    "security_report": {
        "subject": ["Someone else logged into my account", "Suspicious login", "Account hacked?"],
        "problem": ["I got a login alert from {ip}, which was not me.",
                    "There is an order in my account I did not place, and the login history shows {ip}.",
                    "My account shows a login from {ip} at 3 am. That was not me and my password was changed."],
        "detail": ["There was also a login from {ip6}.", "I have changed my password now.",
                   "My saved card ends in {last4}."],
        "ask": ["Please lock my account and check it.", "Please cancel any orders I did not make.",
                "What should I do now?"],
        "pii": ["phone", "ipv6"],
    },
    "device_pairing": {
        "subject": ["TrailSync watch won't pair", "Pairing problem with the app", "TrailSync sync issue"],
        "problem": ["My TrailSync GPS Watch stopped pairing with the Kestrel app after firmware {fw}.",
                    "The TrailSync GPS Watch does not show up in the app on my {phone_model} any more.",
                    "Since the update to firmware {fw} my TrailSync GPS Watch loses the connection every few minutes."],
        "detail": ["I already reinstalled the app.", "Bluetooth is on and other devices connect fine.",
                   "Resetting the watch did not help."],
        "ask": ["How can I fix this?", "Is this a known bug?", "Do I need to send it in?"],
        "pii": ["phone", "ipv4"],
    },
    "api_error": {
        "subject": ["Partner API returning 401", "Order API errors", "Integration down since this morning"],
        "problem": ["Our integration with the partner API has failed since {date}: every call to /v2/orders returns 401 Unauthorized.",
                    "We are a reseller ({company}) and our stock sync gets HTTP 500 from your partner API for about half of the requests.",
                    "The webhook for order updates stopped reaching our server on {date}; nothing changed on our side."],
        "detail": ["Our requests come from {ip} and {ip6}.", "Request id of the last failure: {request_id}."],
        "ask": ["Please check, our shop is blocked.", "Can an engineer look at it?",
                "Please tell us what changed."],
        "pii": ["api_key", "aws", "github", "ipv4"],
    },
    "product_question": {
        "subject": ["Question about the {product}", "Product question", "Before I buy: {product}"],
        "problem": ["Is the {product} waterproof enough for a week of hiking in Scotland?",
                    "Does the {product} come in a larger size, and how does it fit?",
                    "Is the {product} suitable for winter camping?",
                    "Can I take the {product} on a plane in my hand luggage?"],
        "detail": ["I'm planning a trip in {month}.", "I usually wear size {size}."],
        "ask": ["Thanks for your advice!", "Looking forward to your answer.", "Thanks."],
        "pii": [],
    },
}

EN_GREET = ["Hi,", "Hello,", "Hi there,", "Dear Kestrel team,", "Hello support,", "Good morning,", "Hi Kestrel,", ""]
EN_CLOSE = ["Thanks,", "Thank you,", "Best regards,", "Cheers,", "Kind regards,", "Thanks in advance,", "Regards,", "Best,"]
EN_URGENT = ["This is urgent.", "Please treat this as urgent!", "URGENT: I need this sorted today.",
             "I need an answer asap.", "It's urgent, I leave on a trip on Saturday."]
EN_PII = {
    "phone": ["You can call me on {phone}.", "My number is {phone} if you need it.",
              "Best to reach me at {phone} after 5 pm.", "Phone: {phone}."],
    "card": ["The card used was {card}.", "It was my card {card}, expiry 08/28.", "Card number {card} in case you need it."],
    "iban": ["Please refund to my bank account instead: IBAN {iban}.", "My IBAN is {iban} (account holder {name})."],
    "ipv4": ["My IP address is {ip}, in case that helps.", "I was on {ip} when it happened."],
    "ipv6": ["The alert also listed {ip6}."],
    "api_key": ["We call it with the key {api_key} and get 401 since this morning.",
                "Example: curl -H 'Authorization: Bearer {api_key}' https://partner-api.kestrel-outfitters.example/v2/orders (returns 401)."],
    "aws": ["The order export to S3 (access key {aws_key}, secret {aws_secret}) still works, so it is only your API."],
    "github": ["Our CI pulls your SDK with the token {gh_token}, that part is fine."],
}
DAMAGES = ["the zip is torn", "one of the poles is snapped", "there is a hole in the fabric",
           "the sole is coming off", "the screen is cracked", "the lid doesn't close",
           "a seam is split along the side"]
SIZES_APPAREL = ["S", "M", "L", "XL", "XXL"]
SIZES_SHOES = ["40", "41", "42", "43", "44", "45", "9", "10", "11"]
COMPANIES = {"Trailhead Rentals GmbH": "trailhead-rentals.example", "Peak & Pine Outdoor Ltd": "peakpine.example",
             "Alpenwerk Sport AG": "alpenwerk.example", "Northfield Outdoor Inc.": "northfield-outdoor.example",
             "Campsite Co. S.L.": "campsite-co.example"}
PHONE_MODELS = ["iPhone 15", "iPhone 13 mini", "Pixel 8", "Galaxy S23", "OnePlus 12"]

DE = {
    "double_charge": {"subject": ["Doppelte Abbuchung", "Zweimal bezahlt für Bestellung {order_id}"],
                      "problem": ["mir wurden für Bestellung {order_id} zwei Zahlungen über je {amount} abgebucht.",
                                  "für meine Bestellung ({product}) wurde meine Karte zweimal mit {amount} belastet."],
                      "ask": ["Bitte erstatten Sie die zweite Zahlung.", "Können Sie eine Buchung stornieren?"]},
    "refund_status": {"subject": ["Erstattung noch nicht erhalten", "Wo bleibt meine Rückerstattung?"],
                      "problem": ["ich habe den Artikel {product} aus Bestellung {order_id} vor zwei Wochen zurückgeschickt, aber die Erstattung von {amount} ist noch nicht da.",
                                  "laut Ihrer E-Mail vom {date} wurde meine Erstattung über {amount} genehmigt, angekommen ist aber nichts."],
                      "ask": ["Wann bekomme ich mein Geld zurück?", "Bitte prüfen Sie das."]},
    "late_delivery": {"subject": ["Bestellung {order_id} nicht angekommen", "Lieferung verspätet"],
                      "problem": ["meine Bestellung {order_id} sollte am {date} ankommen und ist immer noch nicht da.",
                                  "ich habe am {date} den Artikel {product} bestellt und die Lieferung ist jetzt {days} Tage überfällig."],
                      "ask": ["Können Sie nachsehen, wo das Paket ist?", "Bitte geben Sie mir Bescheid."]},
    "lost_parcel": {"subject": ["Paket verloren", "Zugestellt, aber nicht erhalten"],
                    "problem": ["laut Sendungsverfolgung wurde Bestellung {order_id} am {date} zugestellt, ich habe aber nichts bekommen.",
                                "{carrier} hat mein Paket als zugestellt markiert, aber es ist weder bei mir noch bei den Nachbarn."],
                    "ask": ["Bitte schicken Sie Ersatz oder erstatten Sie den Betrag.", "Was können Sie tun?"]},
    "damaged_item": {"subject": ["Ware beschädigt angekommen", "{product}: defekt"],
                     "problem": ["der Artikel {product} aus Bestellung {order_id} ist beschädigt angekommen.",
                                 "mein Artikel {product} kam heute an und ist kaputt."],
                     "ask": ["Ich hätte gern Ersatz.", "Wie kann ich ihn zurückschicken?"]},
    "return_request": {"subject": ["Rücksendung", "Retoure für Bestellung {order_id}"],
                       "problem": ["ich möchte den Artikel {product} aus Bestellung {order_id} zurückgeben.",
                                   "ich möchte den Artikel {product} zurückschicken, er ist unbenutzt und originalverpackt."],
                       "ask": ["Wie bekomme ich ein Rücksendeetikett?", "Bitte senden Sie mir die Rücksendeinformationen."]},
    "login_problem": {"subject": ["Login funktioniert nicht", "Konto gesperrt"],
                      "problem": ["ich kann mich nicht in mein Konto einloggen, die E-Mail zum Zurücksetzen des Passworts kommt nie an.",
                                  "mein Konto ist nach mehreren Versuchen gesperrt."],
                      "ask": ["Bitte helfen Sie mir.", "Können Sie es entsperren?"]},
    "product_question": {"subject": ["Frage zu {product}", "Produktfrage"],
                         "problem": ["ist der Artikel {product} für eine Woche Wandern in Schottland wasserdicht genug?",
                                     "gibt es den Artikel {product} auch eine Nummer größer?"],
                         "ask": ["Vielen Dank für Ihre Beratung!", "Danke im Voraus."]},
}
DE_GREET = ["Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,", "Hallo Kestrel-Team,"]
DE_CLOSE = ["Viele Grüße", "Mit freundlichen Grüßen", "Danke und Gruß", "Beste Grüße"]
DE_URGENT = ["Es ist dringend.", "Bitte dringend bearbeiten!", "Ich brauche das bis Samstag, es ist dringend."]
DE_PII = {"phone": ["Sie erreichen mich unter {phone}.", "Meine Telefonnummer: {phone}."],
          "card": ["Die Karte war {card}."], "iban": ["Bitte überweisen Sie auf mein Konto: IBAN {iban}."]}

ES = {
    "double_charge": {"subject": ["Cobro duplicado", "Me han cobrado dos veces"],
                      "problem": ["me han cobrado dos veces el pedido {order_id}, dos cargos de {amount}.",
                                  "en mi tarjeta aparecen dos cargos de {amount} por la misma compra del {product}."],
                      "ask": ["Por favor, devuélvanme el segundo cargo.", "¿Pueden anular uno de los cobros?"]},
    "refund_status": {"subject": ["No he recibido el reembolso", "Reembolso pendiente"],
                      "problem": ["devolví el {product} del pedido {order_id} hace dos semanas y todavía no he recibido el reembolso de {amount}.",
                                  "el {date} me confirmaron el reembolso de {amount}, pero no ha llegado nada."],
                      "ask": ["¿Cuándo recibiré mi dinero?", "Por favor, revísenlo."]},
    "late_delivery": {"subject": ["Pedido {order_id} sin entregar", "Retraso en la entrega"],
                      "problem": ["mi pedido {order_id} tenía que llegar el {date} y todavía no ha llegado.",
                                  "pedí el {product} el {date} y la entrega lleva {days} días de retraso."],
                      "ask": ["¿Pueden decirme dónde está?", "Por favor, consulten con la empresa de transporte."]},
    "lost_parcel": {"subject": ["Paquete perdido", "Marcado como entregado pero no lo tengo"],
                    "problem": ["el seguimiento dice que el pedido {order_id} se entregó el {date}, pero no lo he recibido.",
                                "{carrier} marcó mi paquete como entregado, pero no está en casa ni con los vecinos."],
                    "ask": ["Por favor, envíen otro o devuélvanme el dinero.", "¿Qué pueden hacer?"]},
    "damaged_item": {"subject": ["Producto dañado", "{product} roto"],
                     "problem": ["el {product} del pedido {order_id} llegó dañado.",
                                 "mi {product} llegó hoy y está roto."],
                     "ask": ["Quiero un reemplazo.", "¿Cómo lo devuelvo?"]},
    "return_request": {"subject": ["Devolución", "Devolución del pedido {order_id}"],
                       "problem": ["quiero devolver el {product} del pedido {order_id}.",
                                   "me gustaría devolver el {product}, está sin usar y en su embalaje original."],
                       "ask": ["¿Cómo consigo la etiqueta de devolución?", "Envíenme las instrucciones, por favor."]},
    "login_problem": {"subject": ["No puedo iniciar sesión", "Cuenta bloqueada"],
                      "problem": ["no puedo entrar en mi cuenta, el correo para restablecer la contraseña nunca llega.",
                                  "mi cuenta está bloqueada después de varios intentos."],
                      "ask": ["Ayúdenme, por favor.", "¿Pueden desbloquearla?"]},
    "product_question": {"subject": ["Pregunta sobre el {product}", "Consulta de producto"],
                         "problem": ["¿el {product} es suficientemente impermeable para una semana de senderismo?",
                                     "¿hay el {product} en una talla más grande?"],
                         "ask": ["¡Gracias por su ayuda!", "Un saludo y gracias."]},
}
ES_GREET = ["Hola,", "Buenos días,", "Estimados señores:", "Hola equipo de Kestrel,"]
ES_CLOSE = ["Saludos,", "Un saludo,", "Gracias,", "Atentamente,"]
ES_URGENT = ["Es urgente.", "¡Por favor, es urgente!", "Necesito una respuesta urgente."]
ES_PII = {"phone": ["Mi teléfono es {phone}.", "Pueden llamarme al {phone}."],
          "card": ["La tarjeta es {card}."], "iban": ["Prefiero el reembolso por transferencia: IBAN {iban}."]}

JA = {
    "double_charge": {"subject": ["二重請求について", "注文{order_id}の二重引き落とし"],
                      "problem": ["注文番号{order_id}の代金{amount}が二回引き落とされています。",
                                  "{product}の購入で、カードに{amount}の請求が二件あります。"],
                      "ask": ["一件分の返金をお願いします。", "確認をお願いいたします。"]},
    "refund_status": {"subject": ["返金が届いていません", "返金について"],
                      "problem": ["二週間前に注文{order_id}の{product}を返品しましたが、{amount}の返金がまだです。",
                                  "{date}に返金承認のメールをいただきましたが、まだ入金されていません。返金額は{amount}です。"],
                      "ask": ["いつ返金されますか。", "ご確認ください。"]},
    "late_delivery": {"subject": ["注文{order_id}が届きません", "配送の遅れについて"],
                      "problem": ["注文{order_id}は{date}に届く予定でしたが、まだ届いていません。",
                                  "{date}に{product}を注文しましたが、配送が{days}日遅れています。"],
                      "ask": ["現在の状況を教えてください。", "配送業者に確認していただけますか。"]},
    "lost_parcel": {"subject": ["荷物が見つかりません", "配達済みなのに届いていません"],
                    "problem": ["追跡では注文{order_id}は{date}に配達済みですが、受け取っていません。",
                                "{carrier}の追跡で配達完了になっていますが、荷物がありません。"],
                    "ask": ["再送または返金をお願いします。", "対応をお願いします。"]},
    "damaged_item": {"subject": ["商品が破損していました", "{product}の破損"],
                     "problem": ["注文{order_id}の{product}が破損した状態で届きました。",
                                 "本日届いた{product}が壊れていました。"],
                     "ask": ["交換をお願いします。", "返品方法を教えてください。"]},
    "return_request": {"subject": ["返品希望", "注文{order_id}の返品"],
                       "problem": ["注文{order_id}の{product}を返品したいです。",
                                   "{product}は未使用で元の箱に入っています。返品できますか。"],
                       "ask": ["返品ラベルを送ってください。", "手順を教えてください。"]},
    "login_problem": {"subject": ["ログインできません", "アカウントがロックされました"],
                      "problem": ["パスワード再設定のメールが届かず、ログインできません。",
                                  "何度か失敗してアカウントがロックされてしまいました。"],
                      "ask": ["解除をお願いします。", "どうすればよいですか。"]},
    "product_question": {"subject": ["{product}について質問", "商品についての質問"],
                         "problem": ["{product}は一週間の登山に十分な防水性がありますか。",
                                     "{product}の大きいサイズはありますか。"],
                         "ask": ["教えていただけますか。", "ご回答をお待ちしております。"]},
}
JA_GREET = ["お世話になっております。", "こんにちは。", "Kestrel Outfitters ご担当者様"]
JA_CLOSE = ["よろしくお願いいたします。", "以上です。"]
JA_URGENT = ["至急対応をお願いします。", "急ぎです。"]
JA_PII = {"phone": ["電話番号は{phone}です。", "連絡先は{phone}です。"], "card": ["カード番号は{card}です。"]}

LANG_POOLS = {"en": (EN, EN_GREET, EN_CLOSE, EN_URGENT, EN_PII), "de": (DE, DE_GREET, DE_CLOSE, DE_URGENT, DE_PII),
              "es": (ES, ES_GREET, ES_CLOSE, ES_URGENT, ES_PII), "ja": (JA, JA_GREET, JA_CLOSE, JA_URGENT, JA_PII)}
FORMATTER = string.Formatter()


def fields_of(template):
    return [f for _, f, _, _ in FORMATTER.parse(template) if f]


class Ticket:
    """One support ticket: its facts and its text. `stated` records which facts the text states."""

    def __init__(self, r, n, created, customer=None, issue=None, lang=None, english_only=False):
        self.r = r
        self.ticket_id = f"T-{204000 + n}"
        self.session = "s-" + rand_str(r, 6, "0123456789abcdef")
        self.created = created
        self.issue = issue or weighted(r, ISSUE_W)
        self.c = customer or Customer(r)
        c = self.c
        if lang is None:
            lang = "en"
            if not english_only and self.issue in TRANSLATED:
                p = r.random()
                lang = {"DE": "de" if p < 0.55 else "en", "ES": "es" if p < 0.6 else "en",
                        "JP": "ja" if p < 0.65 else "en"}.get(c.country, "en")
        self.lang = lang
        self.queue, base = ISSUES[self.issue]
        self.urgent = r.random() < (0.25 if self.issue in ("late_delivery", "lost_parcel", "login_problem", "api_error") else 0.1)
        self.priority = "high" if self.urgent else base
        prod = r.choice([p for p in PRODUCTS if p[0] != "TrailSync GPS Watch"] if self.issue != "device_pairing"
                        else [p for p in PRODUCTS if p[0] == "TrailSync GPS Watch"])
        if self.issue == "exchange_size":
            prod = r.choice([p for p in PRODUCTS if p[0] in SIZED])
        self.product, self.sku, usd, self.category = prod
        self.amount = price(usd, c.currency)
        self.order_id = order_id(r)
        self.carrier = r.choice(CARRIERS[c.country])
        self.tracking = tracking(r, self.carrier)
        self.channel = weighted(r, [("email", 5), ("web", 3), ("app", 2)])
        if self.issue in ("email_change", "account_deletion") and self.channel == "app":
            self.channel = "email"
        if self.issue == "api_error":
            self.channel = "email"
        self.company = r.choice(sorted(COMPANIES))
        self.values = {}  # fact -> text as written
        self.pii = []  # planted values in this ticket
        self.text = self._compose()

    # fact values, drawn lazily so that only stated facts create personal data
    def fact(self, key):
        if key in self.values:
            return self.values[key]
        r, c = self.r, self.c
        d_past = (self.created - dt.timedelta(days=r.randint(3, 20))).date()
        v = {
            "order_id": lambda: self.order_id,
            "product": lambda: self.product,
            "amount": lambda: money(self.amount, c.currency, self.lang, r),
            "date": lambda: day_month(d_past, self.lang),
            "days": lambda: str(r.randint(3, 12)),
            "carrier": lambda: self.carrier,
            "tracking": lambda: self.tracking,
            "company": lambda: self.company,
            "vat": lambda: {"DE": "DE", "FR": "FR", "NL": "NL", "ES": "ES", "IE": "IE"}.get(c.country, "GB") + digits(r, 9),
            "address": lambda: f"{street_line(r, c.country)}, {c.address['postcode']} {c.address['city']}",
            "damage": lambda: r.choice(DAMAGES),
            "size": lambda: r.choice(SIZES_SHOES if self.category == "footwear" else SIZES_APPAREL),
            "new_email": lambda: email_addr(r, c.first, c.last, "work" if r.random() < 0.3 else "personal", c.country),
            "customer_id": lambda: c.customer_id,
            "ip": lambda: ipv4(r),
            "ip6": lambda: ipv6(r),
            "last4": lambda: digits(r, 4),
            "fw": lambda: r.choice(["2.4.1", "2.4.0", "2.3.7"]),
            "phone_model": lambda: r.choice(PHONE_MODELS),
            "request_id": lambda: "req_" + rand_str(r, 16, "0123456789abcdef"),
            "month": lambda: r.choice(MONTHS[:9]),
            "phone": lambda: c.phone,
            "card": lambda: card_number(r),
            "iban": lambda: iban(r, c.country),
            "api_key": lambda: openai_key(r),
            "aws_key": lambda: aws_key(r),
            "aws_secret": lambda: aws_secret(r),
            "gh_token": lambda: github_token(r),
            "name": lambda: c.name,
        }[key]()
        self.values[key] = v
        if key in ("phone", "card", "iban", "api_key", "aws_key", "aws_secret", "gh_token", "ip", "ip6", "new_email"):
            self.pii.append(v)
        return v

    def fill(self, template):
        return template.format(**{k: self.fact(k) for k in fields_of(template)})

    def _compose(self):
        r, c = self.r, self.c
        pools, greets, closes, urgents, piis = LANG_POOLS[self.lang]
        t = pools[self.issue]
        subject = self.fill(r.choice(t["subject"]))
        problem = self.fill(r.choice(t["problem"]))
        parts = [problem]
        if self.lang == "en" and t.get("detail") and r.random() < 0.6:
            parts.append(self.fill(r.choice(t["detail"])))
        kinds = EN[self.issue]["pii"]
        n_pii = weighted(r, [(0, 4), (1, 5), (2, 1)]) if kinds else 0
        if self.issue == "api_error":  # partners paste their configuration, secrets included
            chosen = r.sample(["api_key", "aws", "github"], weighted(r, [(1, 5), (2, 3), (3, 1)]))
            if r.random() < 0.5:
                chosen.append("ipv4")
            n_pii = 0
        else:
            chosen = []
        for _ in range(n_pii):
            k = r.choice(kinds)
            if k not in chosen and k in piis:
                chosen.append(k)
        for k in chosen:
            parts.append(self.fill(r.choice(piis[k])))
        if self.urgent:
            u = r.choice(urgents)
            if r.random() < 0.4:
                parts.insert(0, u)
            else:
                parts.append(u)
        parts.append(self.fill(r.choice(t["ask"])))
        greet = r.choice(greets)
        # German and Spanish letters go on in lower case after "Hallo," / "Hola,"; otherwise capitalise
        if self.lang != "ja" and (self.lang == "en" or not greet or greet.endswith(":") or parts[0] is not problem):
            i = parts.index(problem)
            k = 1 if problem[:1] in "¿¡" else 0
            parts[i] = problem[:k] + problem[k:k + 1].upper() + problem[k + 1:]
        body_text = ("" if self.lang == "ja" else " ").join(parts)
        signer = c.kanji if self.lang == "ja" else c.name
        if self.issue == "api_error":
            signer = f"{c.name}\n{self.company}"
        self.values["name"] = signer.split("\n")[0]
        body = (greet + "\n\n" if greet else "") + body_text + "\n\n" + r.choice(closes) + "\n" + signer
        self.subject = subject
        self.body = body
        head = f"Ticket {self.ticket_id} · {self.channel}\n"
        if self.channel == "email":
            frm = email_addr(r, c.first, c.last, "work", company_domain=COMPANIES[self.company]) if self.issue == "api_error" else c.email
            self.values["email"] = frm
            if frm not in self.pii:
                self.pii.append(frm)
            return head + f"From: {self.values['name']} <{frm}>\nSubject: {subject}\n\n{body}"
        if self.channel == "web":
            self.values["email"] = c.email
            if c.email not in self.pii:
                self.pii.append(c.email)
            lines = [f"Name: {self.values['name']}", f"Email: {c.email}"]
            if "phone" not in self.values and r.random() < 0.5:
                lines.append(f"Phone: {self.fact('phone')}")
            if "order_id" not in self.values and self.issue not in ("login_problem", "account_deletion", "email_change",
                                                                    "security_report", "api_error", "product_question", "device_pairing") and r.random() < 0.6:
                lines.append(f"Order number: {self.fact('order_id')}")
            lines.append(f"Topic: {subject}")
            return head + "\n".join(lines) + "\n\nMessage:\n" + body
        # app
        return head + f"Customer: {self.values['name']} ({c.customer_id})\nSubject: {subject}\n\n{body}"

    def stated(self, key):
        return key in self.values

    def extraction(self):
        """The JSON object the extractor must return: only what the ticket states."""
        amount = None
        currency = None
        if self.stated("amount"):
            amount = self.amount
            currency = self.c.currency
        return {
            "customer_name": self.values["name"],
            "email": self.values.get("email"),
            "phone": self.values.get("phone"),
            "order_id": self.order_id if self.stated("order_id") else None,
            "product": self.product if self.stated("product") else None,
            "issue_type": self.issue,
            "amount": amount,
            "currency": currency,
            "language": self.lang,
            "urgent": self.urgent,
        }


# ---------------------------------------------------------------------------------------------
# LLM calls as a gateway logs them: usage, cost, latency, the openai-chat and anthropic wrappers
# ---------------------------------------------------------------------------------------------

# USD per million tokens: input, output, cached input (OpenAI) or cache read / cache write (Anthropic)
PRICES = {"gpt-4o-mini": (0.15, 0.60, 0.075, None), "gpt-4o": (2.50, 10.00, 1.25, None),
          "claude-sonnet-4-5": (3.00, 15.00, 0.30, 3.75), "claude-haiku-4-5": (1.00, 5.00, 0.10, 1.25)}
SNAPSHOT = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06",
            "claude-sonnet-4-5": "claude-sonnet-4-5-20250929", "claude-haiku-4-5": "claude-haiku-4-5-20251001"}
_fp = rng_for("fingerprints")
FINGERPRINTS = {m: ["fp_" + rand_str(_fp, 10, "0123456789abcdef") for _ in range(2)] for m in ("gpt-4o-mini", "gpt-4o")}
SPEED = {"gpt-4o-mini": (260, 8.0), "gpt-4o": (420, 15.0), "claude-sonnet-4-5": (750, 22.0), "claude-haiku-4-5": (380, 9.0)}


def ntok(text):
    """A rough token count: about four bytes of UTF-8 per token."""
    if not text:
        return 0
    return max(1, (len(text.encode("utf-8")) + 3) // 4)


def jdump(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def prompt_tokens_openai(messages, tools):
    n = 3
    for m in messages:
        n += 4 + ntok(m.get("content") if isinstance(m.get("content"), str) else "")
        if m.get("tool_calls"):
            n += ntok(jdump(m["tool_calls"])) // 2
    if tools:
        n += int(ntok(jdump(tools)) * 0.6)
    return n


def latency(r, model, completion, prompt):
    base, per = SPEED[model]
    return int((base + per * completion + 0.08 * prompt) * r.uniform(0.8, 1.35))


def cost(model, prompt, completion, cache_read=0, cache_write=0):
    pin, pout, pread, pwrite = PRICES[model]
    c = (prompt * pin + completion * pout + cache_read * (pread or 0) + cache_write * (pwrite or 0)) / 1e6
    return round(c, 8)


class Call:
    """One log line to be written, with what the generator knows about it."""

    def __init__(self, ts, dest, line, task, kind="ok", pii=(), agent=None):
        self.ts, self.dest, self.line, self.task, self.kind = ts, dest, line, task, kind
        self.pii = list(dict.fromkeys(pii))
        self.agent = agent
        self.text = None  # serialised line


def openai_call(r, *, ts, agent, session, model, messages, answer=None, tool_calls=None, tools=None, params=None,
                metadata=None, finish=None, max_tokens=None, truncate=False, task, pii=(), kind="ok"):
    """A successful Chat Completions call; `max_tokens` cuts the answer (finish_reason length)."""
    req = {"model": model}
    req.update(params or {})
    req["messages"] = messages
    if tools:
        req["tools"] = tools
    pt = prompt_tokens_openai(messages, tools)
    msg = {"role": "assistant", "content": answer}
    if tool_calls:
        msg["tool_calls"] = tool_calls
        ct = sum(ntok(tc["function"]["arguments"]) + 7 for tc in tool_calls)
        finish = finish or "tool_calls"
    else:
        ct = ntok(answer)
        finish = finish or "stop"
    if truncate:  # a deployment with a too small max_tokens: the answer is cut off
        limits = [m for m in (16, 24, 32, 48, 64, 96, 128, 160, 200, 256, 320) if m < ct * 0.85] or [max(4, ct // 2)]
        max_tokens = limits[-1 - r.randrange(min(2, len(limits)))]
    if max_tokens is not None:
        req["max_tokens"] = max_tokens
        if ct > max_tokens:  # cut at a word boundary near max_tokens tokens
            cut = answer.encode("utf-8")[:max_tokens * 4].decode("utf-8", "ignore")
            cut = cut[:cut.rfind(" ")] if " " in cut[-20:] else cut
            msg["content"] = cut
            ct = max_tokens
            finish = "length"
            kind = "truncated"
    msg["refusal"] = None
    msg["annotations"] = []
    created = unix(ts)
    resp = {"id": chatcmpl_id(r), "object": "chat.completion", "created": created, "model": SNAPSHOT[model],
            "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": r.choice(FINGERPRINTS[model])}
    line = {"request": req, "response": resp, "timestamp": iso(ts), "latency_ms": latency(r, model, ct, pt),
            "agent": agent, "session_id": session, "cost_usd": cost(model, pt, ct),
            "metadata": metadata if metadata is not None else {"env": "prod", "team": "support"}}
    return Call(ts, "gateway", line, task, kind, pii, agent)


OPENAI_ORG = "org-" + rand_str(rng_for("org"), 24)
OPENAI_ERRORS = {
    429: lambda r, model: {"message": f"Rate limit reached for {model} in organization {OPENAI_ORG} on tokens per min (TPM): "
                                      f"Limit {200000 if model == 'gpt-4o-mini' else 30000}, Used {r.randint(190000, 199999) if model == 'gpt-4o-mini' else r.randint(28000, 29999)}, "
                                      f"Requested {r.randint(400, 2500)}. Please try again in {r.randint(120, 2400)}ms. "
                                      "Visit https://platform.openai.com/account/rate-limits to learn more.",
                           "type": "tokens", "param": None, "code": "rate_limit_exceeded"},
    500: lambda r, model: {"message": "The server had an error while processing your request. Sorry about that!",
                           "type": "server_error", "param": None, "code": None},
}


def openai_error(r, ok_call, status, backoff_s):
    """The failed first attempt of `ok_call`: the same request, an error response."""
    ts = ok_call.ts - dt.timedelta(seconds=backoff_s)
    model = ok_call.line["request"]["model"]
    line = {"request": ok_call.line["request"], "response": {"error": OPENAI_ERRORS[status](r, model)},
            "status": status, "timestamp": iso(ts),
            "latency_ms": r.randint(60, 400) if status == 429 else r.randint(900, 12000),
            "agent": ok_call.agent, "session_id": ok_call.line["session_id"], "cost_usd": 0,
            "metadata": ok_call.line["metadata"]}
    return Call(ts, "gateway", line, ok_call.task, "error", ok_call.pii, ok_call.agent)


def tool_call(r, name, args):
    return {"id": call_id(r), "type": "function", "function": {"name": name, "arguments": jdump(args)}}


def fn_tool(name, description, properties, required, strict=False):
    params = {"type": "object", "properties": properties, "required": required}
    f = {"name": name, "description": description, "parameters": params}
    if strict:
        params["additionalProperties"] = False
        f["strict"] = True
    return {"type": "function", "function": f}


# ---------------------------------------------------------------------------------------------
# (a) intake-router: route_ticket(queue, priority)
# ---------------------------------------------------------------------------------------------

ROUTER_SYSTEM_V1 = """You are the intake router of Kestrel Outfitters customer support. For every new ticket, call route_ticket exactly once with the queue and the priority.

Queues:
- billing: duplicate charges, refunds, invoices, failed payments
- shipping: late, lost or misaddressed deliveries
- returns: damaged items, returns, size exchanges
- account: login problems, account deletion, email address changes, suspicious logins
- technical: TrailSync devices and the partner API
- product: questions about products before buying

Priority: high for duplicate charges, lost parcels, suspicious logins, partner API failures, and any ticket in which the customer says it is urgent; low for invoices, returns, size exchanges, email address changes and product questions; normal for everything else.

Tickets can be in any language."""

ROUTER_SYSTEM_V2 = """# Role
Intake router for Kestrel Outfitters support (online outdoor and travel gear shop).

# Task
Read the ticket and call `route_ticket` once. Do not answer the customer.

# Queues
billing = duplicate charges, refunds, invoices, failed payments
shipping = late, lost or misaddressed deliveries
returns = damaged items, returns, size exchanges
account = login problems, account deletion, email address changes, suspicious logins
technical = TrailSync devices, partner API
product = questions about products before buying

# Priority
high = duplicate charges, lost parcels, suspicious logins, partner API failures, or the customer says it is urgent
low = invoices, returns, size exchanges, email address changes, product questions (unless urgent)
normal = everything else

Tickets arrive in English, German, Spanish and Japanese."""

QUEUES = ["billing", "shipping", "returns", "account", "technical", "product"]
ROUTE_V1 = fn_tool("route_ticket", "Send a support ticket to a queue with a priority.",
                   {"queue": {"type": "string", "enum": QUEUES}, "priority": {"type": "string", "enum": ["low", "normal", "high"]}},
                   ["queue", "priority"])
ROUTE_V2 = fn_tool("route_ticket", "Send the ticket to a support queue.",
                   {"queue": {"type": "string", "enum": QUEUES, "description": "the team that handles the ticket"},
                    "priority": {"type": "string", "enum": ["low", "normal", "high"]}},
                   ["queue", "priority"], strict=True)
V2_FROM = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.timezone.utc)  # the prompt was rewritten that morning


def router_call(r, t, ts):
    v2 = ts >= V2_FROM
    messages = [{"role": "system", "content": ROUTER_SYSTEM_V2 if v2 else ROUTER_SYSTEM_V1},
                {"role": "user", "content": t.text}]
    params = {"temperature": 0}
    if v2:
        params["tool_choice"] = {"type": "function", "function": {"name": "route_ticket"}}
        params["parallel_tool_calls"] = False
    else:
        params["tool_choice"] = "required"
    return openai_call(r, ts=ts, agent="intake-router", session=t.session, model="gpt-4o-mini", messages=messages,
                       tools=[ROUTE_V2 if v2 else ROUTE_V1], params=params,
                       tool_calls=[tool_call(r, "route_ticket", {"queue": t.queue, "priority": t.priority})],
                       metadata={"env": "prod", "team": "support", "ticket_id": t.ticket_id, "prompt_version": "v2" if v2 else "v1"},
                       task="routing", pii=t.pii)


# ---------------------------------------------------------------------------------------------
# (b) extractor: one JSON object of ticket fields
# ---------------------------------------------------------------------------------------------

EXTRACTOR_SYSTEM = """You extract structured data from Kestrel Outfitters support tickets. Answer with exactly one JSON object with these keys, in this order:
- customer_name: the customer's name as written in the ticket
- email: the address the ticket came from, or null
- phone: the customer's phone number as written, or null
- order_id: the 7-digit order number without '#', or null
- product: the product name as written in our catalogue, or null
- issue_type: one of double_charge, refund_status, invoice_request, payment_failed, late_delivery, lost_parcel, wrong_address, damaged_item, return_request, exchange_size, login_problem, account_deletion, email_change, security_report, device_pairing, api_error, product_question
- amount: the amount of money the customer mentions, as a number, or null
- currency: ISO 4217 code of that amount, or null
- language: ISO 639-1 code of the ticket's language
- urgent: true if the customer says it is urgent, else false
Use null for anything the ticket does not state. No other keys, no comments."""


def extractor_call(r, t, ts, truncate=False):
    answer = json.dumps(t.extraction(), ensure_ascii=False)
    messages = [{"role": "system", "content": EXTRACTOR_SYSTEM}, {"role": "user", "content": t.text}]
    return openai_call(r, ts=ts, agent="extractor", session=t.session, model="gpt-4o-mini", messages=messages,
                       answer=answer, params={"temperature": 0, "response_format": {"type": "json_object"}},
                       max_tokens=300, truncate=truncate,
                       metadata={"env": "prod", "team": "support", "ticket_id": t.ticket_id},
                       task="extraction", pii=t.pii)


# ---------------------------------------------------------------------------------------------
# (c) analyst: PostgreSQL from a fixed schema
# ---------------------------------------------------------------------------------------------

ANALYST_SYSTEM = """You are the data analyst of Kestrel Outfitters. Write one PostgreSQL query that answers the question, using only the tables below. Answer with the SQL only: no explanation, no code fences.

CREATE TABLE customers (customer_id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, country CHAR(2), tier TEXT, created_at TIMESTAMPTZ);
CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT REFERENCES customers, status TEXT, total NUMERIC(10,2), currency CHAR(3), ship_country CHAR(2), carrier TEXT, created_at TIMESTAMPTZ, shipped_at TIMESTAMPTZ, delivered_at TIMESTAMPTZ);
CREATE TABLE order_items (order_id TEXT REFERENCES orders, sku TEXT REFERENCES products, qty INT, unit_price NUMERIC(10,2));
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT, category TEXT, price_usd NUMERIC(10,2));
CREATE TABLE refunds (refund_id TEXT PRIMARY KEY, order_id TEXT REFERENCES orders, amount NUMERIC(10,2), currency CHAR(3), reason TEXT, refunded_at TIMESTAMPTZ);
CREATE TABLE tickets (ticket_id TEXT PRIMARY KEY, customer_id TEXT REFERENCES customers, order_id TEXT, queue TEXT, priority TEXT, status TEXT, created_at TIMESTAMPTZ, closed_at TIMESTAMPTZ);

orders.status is one of placed, shipped, delivered, cancelled, returned. tickets.status is open or closed. refunds.reason is one of duplicate_charge, return, damaged, lost, goodwill. customers.tier is standard, silver or gold."""

COUNTRY_NAMES = {"US": "the US", "GB": "the UK", "DE": "Germany", "FR": "France", "NL": "the Netherlands",
                 "ES": "Spain", "IE": "Ireland", "JP": "Japan"}
REASONS = ["duplicate_charge", "return", "damaged", "lost", "goodwill"]


def month_range(y, m):
    a = dt.date(y, m, 1)
    b = dt.date(y + (m == 12), m % 12 + 1, 1)
    return a.isoformat(), b.isoformat(), f"{MONTHS[m - 1]} {y}"


ALL_CARRIERS = sorted({c for cs in CARRIERS.values() for c in cs})


def analyst_question(r, customers_for_lookup):
    """(question, sql, personal data in it) from one of the question templates."""
    y, m = weighted(r, [((2026, 11), 4), ((2026, 10), 4), ((2026, 9), 3), ((2026, 8), 2), ((2026, 7), 1),
                        ((2026, 6), 1), ((2026, 5), 1), ((2026, 3), 1), ((2025, 12), 1), ((2025, 11), 2)])
    a, b, mname = month_range(y, m)
    cc = r.choice(list(COUNTRY_NAMES))
    cname = COUNTRY_NAMES[cc]
    q = r.choice(QUEUES)
    n = r.choice([3, 5, 8, 10, 15, 20, 25])
    days = r.choice([7, 14, 21, 30, 60, 90, 180])
    prod = r.choice(PRODUCTS)[0]
    carrier = r.choice(ALL_CARRIERS)
    amt = r.choice([50, 100, 150, 200, 250, 300, 500, 1000])
    hours = r.choice([24, 48, 72, 96, 120])
    k = r.randrange(21)
    pii = []
    period = f"created_at >= '{a}' AND created_at < '{b}'"
    if k == 0:
        qs = [f"How many orders were shipped to {cname} in {mname}?", f"Number of orders shipped to {cname} in {mname}",
              f"count of shipments to {cname}, {mname}", f"{mname}: how many parcels went to {cname}?"]
        sql = (f"SELECT COUNT(*) AS orders\nFROM orders\nWHERE ship_country = '{cc}'\n"
               f"  AND shipped_at >= '{a}' AND shipped_at < '{b}';")
    elif k == 1:
        qs = [f"What was the revenue per currency in {mname}, without cancelled orders?",
              f"Revenue by currency for {mname} (exclude cancelled)", f"total sales per currency in {mname}, cancelled orders excluded"]
        sql = (f"SELECT currency, SUM(total) AS revenue\nFROM orders\nWHERE status <> 'cancelled'\n"
               f"  AND {period}\nGROUP BY currency\nORDER BY currency;")
    elif k == 2:
        qs = [f"Which {n} products sold the most units in the last {days} days?", f"Top {n} products by units sold, last {days} days",
              f"best sellers (units), past {days} days, top {n}"]
        sql = (f"SELECT p.name, SUM(oi.qty) AS units\nFROM order_items oi\nJOIN orders o ON o.order_id = oi.order_id\n"
               f"JOIN products p ON p.sku = oi.sku\nWHERE o.created_at >= CURRENT_DATE - INTERVAL '{days} days'\n"
               f"  AND o.status <> 'cancelled'\nGROUP BY p.name\nORDER BY units DESC\nLIMIT {n};")
    elif k == 3:
        qs = [f"What is the average resolution time in hours of {q} tickets created in {mname}?",
              f"Average hours to close a {q} ticket, tickets from {mname}", f"avg resolution time (h) for the {q} queue in {mname}"]
        sql = (f"SELECT AVG(EXTRACT(EPOCH FROM closed_at - created_at) / 3600) AS avg_hours\nFROM tickets\n"
               f"WHERE queue = '{q}'\n  AND closed_at IS NOT NULL\n  AND {period};")
    elif k == 4:
        qs = [f"How many open tickets does the {q} queue have per priority?", f"Open {q} tickets by priority",
              f"breakdown of open tickets in {q} by priority"]
        sql = (f"SELECT priority, COUNT(*) AS tickets\nFROM tickets\nWHERE queue = '{q}'\n  AND status = 'open'\n"
               f"GROUP BY priority\nORDER BY priority;")
    elif k == 5:
        qs = [f"How much did we refund per reason in {mname}?", f"Refund totals by reason and currency, {mname}",
              f"refunds in {mname} grouped by reason"]
        sql = (f"SELECT reason, currency, SUM(amount) AS refunded, COUNT(*) AS refunds\nFROM refunds\n"
               f"WHERE refunded_at >= '{a}' AND refunded_at < '{b}'\nGROUP BY reason, currency\nORDER BY reason, currency;")
    elif k == 6:
        qs = [f"Which customers in {cname} placed more than {n} orders?", f"Customers from {cname} with over {n} orders",
              f"list {cname} customers having more than {n} orders"]
        sql = (f"SELECT c.customer_id, c.name, COUNT(*) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.customer_id\n"
               f"WHERE c.country = '{cc}'\nGROUP BY c.customer_id, c.name\nHAVING COUNT(*) > {n}\nORDER BY orders DESC;")
    elif k == 7:
        c = r.choice(customers_for_lookup)
        em = c.email
        pii.append(em)
        qs = [f"Show all orders of the customer with email {em}, newest first.", f"orders for {em}",
              f"What has {em} ordered? List the orders with status and total."]
        sql = (f"SELECT o.order_id, o.status, o.total, o.currency, o.created_at\nFROM orders o\n"
               f"JOIN customers c ON c.customer_id = o.customer_id\nWHERE c.email = '{em}'\nORDER BY o.created_at DESC;")
    elif k == 8:
        c = r.choice(customers_for_lookup)
        ph = c.phone
        pii.append(ph)
        qs = [f"Which customer has the phone number {ph}?", f"find the customer record for phone {ph}",
              f"Look up customer id, name and email for {ph}"]
        sql = f"SELECT customer_id, name, email\nFROM customers\nWHERE phone = '{ph}';"
    elif k == 9:
        d = days if days < 30 else 5
        qs = [f"What share of orders shipped in {mname} took more than {d} days to deliver, per carrier?",
              f"Late delivery rate (>{d} days) by carrier for {mname} shipments",
              f"per carrier: fraction of {mname} deliveries slower than {d} days"]
        sql = (f"SELECT carrier, AVG(CASE WHEN delivered_at - shipped_at > INTERVAL '{d} days' THEN 1.0 ELSE 0.0 END) AS late_share\n"
               f"FROM orders\nWHERE delivered_at IS NOT NULL\n  AND shipped_at >= '{a}' AND shipped_at < '{b}'\n"
               f"GROUP BY carrier\nORDER BY late_share DESC;")
    elif k == 10:
        qs = [f"How many orders with the {prod} were returned in {mname}?", f"Returned orders containing the {prod}, {mname}",
              f"number of returns of {prod} in {mname}"]
        sql = (f"SELECT COUNT(DISTINCT o.order_id) AS returned_orders\nFROM orders o\nJOIN order_items oi ON oi.order_id = o.order_id\n"
               f"JOIN products p ON p.sku = oi.sku\nWHERE o.status = 'returned'\n  AND p.name = '{prod}'\n"
               f"  AND o.{period};")
    elif k == 11:
        qs = [f"How many {q} tickets were created per day in the last {days} days?", f"Daily new tickets in {q}, last {days} days",
              f"{q} ticket volume per day over the past {days} days"]
        sql = (f"SELECT DATE(created_at) AS day, COUNT(*) AS tickets\nFROM tickets\nWHERE queue = '{q}'\n"
               f"  AND created_at >= CURRENT_DATE - INTERVAL '{days} days'\nGROUP BY day\nORDER BY day;")
    elif k == 12:
        qs = [f"What was the average order value per ship country in {mname}?", f"AOV by country for {mname}",
              f"average order total per destination country, {mname}"]
        sql = (f"SELECT ship_country, currency, AVG(total) AS avg_order_value\nFROM orders\nWHERE status <> 'cancelled'\n"
               f"  AND {period}\nGROUP BY ship_country, currency\nORDER BY ship_country;")
    elif k == 13:
        qs = [f"Which gold-tier customers have not ordered anything in the last {days} days?",
              f"Gold customers without an order in the past {days} days", f"list inactive gold customers ({days} days)"]
        sql = (f"SELECT c.customer_id, c.name\nFROM customers c\nWHERE c.tier = 'gold'\n  AND NOT EXISTS (\n"
               f"    SELECT 1 FROM orders o\n    WHERE o.customer_id = c.customer_id\n"
               f"      AND o.created_at >= CURRENT_DATE - INTERVAL '{days} days'\n  )\nORDER BY c.name;")
    elif k == 14:
        qs = [f"Revenue per product category in {mname}?", f"How much did each category sell in {mname} (in USD list price)?",
              f"{mname} sales by category, list-price USD"]
        sql = (f"SELECT p.category, SUM(oi.qty * p.price_usd) AS revenue_usd\nFROM order_items oi\n"
               f"JOIN orders o ON o.order_id = oi.order_id\nJOIN products p ON p.sku = oi.sku\n"
               f"WHERE o.status <> 'cancelled'\n  AND o.{period}\nGROUP BY p.category\nORDER BY revenue_usd DESC;")
    elif k == 15:
        qs = [f"How many orders did {carrier} ship in {mname}?", f"{carrier} shipments in {mname}",
              f"number of {mname} orders shipped with {carrier}"]
        sql = (f"SELECT COUNT(*) AS orders\nFROM orders\nWHERE carrier = '{carrier}'\n"
               f"  AND shipped_at >= '{a}' AND shipped_at < '{b}';")
    elif k == 16:
        qs = [f"List refunds above {amt} in the last {days} days with their order and reason.",
              f"refunds over {amt} (any currency), past {days} days", f"Which refunds in the last {days} days were larger than {amt}?"]
        sql = (f"SELECT refund_id, order_id, amount, currency, reason, refunded_at\nFROM refunds\nWHERE amount > {amt}\n"
               f"  AND refunded_at >= CURRENT_DATE - INTERVAL '{days} days'\nORDER BY amount DESC;")
    elif k == 17:
        c = r.choice(customers_for_lookup)
        em = c.email
        pii.append(em)
        qs = [f"How many tickets has {em} opened, per queue?", f"ticket count by queue for the customer {em}",
              f"Per queue, how often did {em} contact us?"]
        sql = (f"SELECT t.queue, COUNT(*) AS tickets\nFROM tickets t\nJOIN customers c ON c.customer_id = t.customer_id\n"
               f"WHERE c.email = '{em}'\nGROUP BY t.queue\nORDER BY tickets DESC;")
    elif k == 18:
        qs = [f"What was the average number of items per order in {mname}?", f"avg units per order, {mname}",
              f"Items per order on average for orders placed in {mname}"]
        sql = (f"SELECT AVG(items) AS avg_items\nFROM (\n  SELECT oi.order_id, SUM(oi.qty) AS items\n  FROM order_items oi\n"
               f"  JOIN orders o ON o.order_id = oi.order_id\n  WHERE o.{period}\n  GROUP BY oi.order_id\n) per_order;")
    elif k == 19:
        qs = [f"How many new customers from {cname} signed up per month in {y}?", f"monthly sign-ups in {cname}, {y}",
              f"New {cname} customers by month for {y}"]
        sql = (f"SELECT DATE_TRUNC('month', created_at) AS month, COUNT(*) AS customers\nFROM customers\n"
               f"WHERE country = '{cc}'\n  AND created_at >= '{y}-01-01' AND created_at < '{y + 1}-01-01'\n"
               f"GROUP BY month\nORDER BY month;")
    else:
        qs = [f"Which high-priority {q} tickets have been open for more than {hours} hours?",
              f"open high-priority tickets in {q} older than {hours}h", f"List {q} tickets with priority high, still open after {hours} hours"]
        sql = (f"SELECT ticket_id, customer_id, created_at\nFROM tickets\nWHERE queue = '{q}'\n  AND priority = 'high'\n"
               f"  AND status = 'open'\n  AND created_at < NOW() - INTERVAL '{hours} hours'\nORDER BY created_at;")
    qtext = r.choice(qs)
    if r.random() < 0.2:
        qtext = r.choice(["Quick one: ", "For the weekly report: ", "Ops dashboard: ", "Can you get me this? ",
                          "Hey, ", "Need this for the 10am meeting: "]) + qtext[0].lower() + qtext[1:]
    return qtext, sql, pii


SEEN_QUESTIONS = set()


def analyst_call(r, ts, session, customers, truncate=False):
    while True:  # the same question with the same answer would be the same record: ask something else
        qtext, sql, pii = analyst_question(r, customers)
        if truncate and ntok(sql) < 30:
            continue
        if qtext not in SEEN_QUESTIONS:
            SEEN_QUESTIONS.add(qtext)
            break
    messages = [{"role": "system", "content": ANALYST_SYSTEM}, {"role": "user", "content": qtext}]
    return openai_call(r, ts=ts, agent="analyst", session=session, model="gpt-4o", messages=messages, answer=sql,
                       params={"temperature": 0}, max_tokens=None, truncate=truncate,
                       metadata={"env": "prod", "team": "ops-analytics", "dashboard": r.choice(["support-kpis", "sales-weekly", "ad-hoc"])},
                       task="sql", pii=pii)


# ---------------------------------------------------------------------------------------------
# (d) summariser: ticket threads -> one structured paragraph
# ---------------------------------------------------------------------------------------------

SUMMARISER_SYSTEM = """You summarise customer support threads for Kestrel Outfitters agents. Write one short paragraph in English:
1. who the customer is and what the problem is, with the order number, product and amount in brackets when the thread gives them;
2. what support did and on which date;
3. the customer's latest reply;
4. "Next step: ..." with what support has to do next.
Never include email addresses, phone numbers, card or bank details."""

AGENTS = ["Mia", "Jonas", "Priya", "Sam", "Elena", "Tom", "Aisha", "Lars"]

ISSUE_PHRASE = {
    "double_charge": "reports a duplicate charge", "refund_status": "has not received a refund",
    "invoice_request": "asks for an invoice", "payment_failed": "cannot complete a payment",
    "late_delivery": "reports a late delivery", "lost_parcel": "reports a lost parcel",
    "wrong_address": "needs the delivery address of an order corrected", "damaged_item": "received a damaged item",
    "return_request": "wants to return an item", "exchange_size": "wants to exchange an item for another size",
    "login_problem": "cannot log in to their account", "account_deletion": "asks for their account and personal data to be deleted",
    "email_change": "asks to change the email address of their account", "security_report": "reports a login to their account that was not theirs",
    "device_pairing": "reports that their TrailSync GPS Watch loses its connection to the app", "api_error": "reports a failing partner API integration",
    "product_question": "has a question about a product",
}
# issue -> [(agent's reply, summary phrase)]
ACTIONS = {
    "double_charge": [("I can see the duplicate payment and have refunded {amount}; it will be back on your card in 3-5 working days.", "refunded the duplicate payment of {amount}"),
                      ("I have asked our payments team to check the two charges; the second one may be a pre-authorisation that drops off by itself.", "asked the payments team to check whether the second charge is a pre-authorisation")],
    "refund_status": [("I checked your return: the refund of {amount} was issued today and should reach you in 3-5 working days.", "issued the refund of {amount}"),
                      ("Our warehouse has not scanned your return yet. I have asked them to look for it.", "asked the warehouse to locate the return")],
    "invoice_request": [("I have asked our accounting team to issue a VAT invoice with your company details.", "asked accounting to issue the VAT invoice")],
    "payment_failed": [("I have reserved your order for 48 hours and reset the payment session; please try again with the link in your account.", "reserved the order for 48 hours and reset the payment session"),
                       ("Our payment provider shows a decline from your bank's side. Could you check with your bank or use another card?", "explained that the payment was declined by the customer's bank")],
    "late_delivery": [("I have asked the carrier for a trace on your parcel and will update you within 48 hours.", "asked the carrier for a trace"),
                      ("The carrier reports a delay at their depot; the new estimated delivery is in 2-3 days.", "passed on the carrier's new estimate of 2-3 days")],
    "lost_parcel": [("I have opened a lost-parcel investigation with the carrier. If it is not found within 5 working days we will send a replacement.", "opened a lost-parcel investigation with the carrier"),
                    ("I have sent a replacement by express delivery; you will get the tracking number by email.", "sent a replacement by express delivery")],
    "wrong_address": [("I have asked the warehouse to change the address before the parcel leaves.", "asked the warehouse to change the address before dispatch"),
                      ("The parcel has already left, so I have asked the carrier to redirect it.", "asked the carrier to redirect the parcel")],
    "damaged_item": [("I'm sorry about that. I have sent you a prepaid return label; the replacement ships as soon as the return is scanned.", "sent a prepaid return label for a replacement"),
                     ("Could you send us a photo of the damage? Then I can arrange a replacement straight away.", "asked for photos of the damage")],
    "return_request": [("Your return is approved; the prepaid label is attached. The refund follows once the item reaches our warehouse.", "approved the return and sent a prepaid label")],
    "exchange_size": [("No problem: I have created an exchange. Send the item back with the attached label and we ship the new size when it is scanned.", "created an exchange and sent a return label")],
    "login_problem": [("I have unlocked your account and sent a new password reset link.", "unlocked the account and sent a new reset link"),
                      ("I have removed the block on your account; please clear the app's cache and try again.", "removed the block on the account")],
    "account_deletion": [("We have received your request and will delete the account and your data within 30 days.", "confirmed the deletion request (30-day deadline)")],
    "email_change": [("For security I have sent a confirmation link to the new address; the change takes effect once you click it.", "sent a confirmation link to the new address")],
    "security_report": [("I have locked your account and cancelled the order you did not place. Please set a new password with the link we sent.", "locked the account and cancelled the unknown order"),
                        ("I have signed out all sessions and passed the case to our Trust & Safety team.", "signed out all sessions and involved Trust & Safety")],
    "device_pairing": [("Please remove the watch from your phone's Bluetooth list, update the app to 5.12 and pair it again.", "suggested re-pairing the watch with app 5.12"),
                       ("This is a known issue with that firmware; a fix is coming. Meanwhile a factory reset of the watch usually helps.", "explained the known firmware issue and suggested a factory reset")],
    "api_error": [("Partner engineering is looking into it; we rotated a certificate yesterday, which may be the cause.", "involved partner engineering (a certificate was rotated the day before)")],
    "product_question": [("Thanks for asking! I have passed your question to our product specialists, who will answer within a day.", "passed the question to the product specialists")],
}
NEXT_STEP = {
    "double_charge": "confirm the refund of the duplicate charge with the payments team",
    "refund_status": "check the refund status with the payments team and send the customer a confirmation",
    "invoice_request": "send the VAT invoice as a PDF",
    "payment_failed": "check the payment provider's logs for the declined payments",
    "late_delivery": "chase the carrier and offer a refund of the shipping cost",
    "lost_parcel": "file a claim with the carrier and send a replacement",
    "wrong_address": "confirm the new address with the warehouse or the carrier",
    "damaged_item": "ship the replacement as soon as the return is scanned",
    "return_request": "refund the customer once the return arrives",
    "exchange_size": "ship the new size once the return is scanned",
    "login_problem": "check the login logs and reset the account manually",
    "account_deletion": "complete the deletion and confirm it in writing",
    "email_change": "verify the new address and update the account",
    "security_report": "review the account's recent orders and logins with Trust & Safety",
    "device_pairing": "collect the watch's logs and pass them to the device team",
    "api_error": "pass the failing request ids to partner engineering",
    "product_question": "answer the product question",
}
FOLLOWUPS = [
    ("resolved", ["Thanks, that worked. All good now.", "Got it, thank you for the quick help!", "Perfect, that's sorted.",
                  "Thank you, everything is fine now."], "The customer confirmed that the problem is solved", None),
    ("persists", ["It's been three days and nothing has changed.", "Still no change on my side, what now?",
                  "This still isn't fixed.", "I'm still waiting, nothing has happened."], "The customer says nothing has changed", "issue"),
    ("phone", ["Please call me instead, my number is {phone}.", "Can someone phone me? {phone}"], "The customer asked for a call back", "issue"),
    ("email", ["Please send updates to my other address, {email2}.", "Use {email2} from now on, please."], "The customer gave a new email address for updates", "issue"),
    ("card", ["The charge was on my card {card}, if that helps.", "For reference, the card is {card}."], "The customer sent the details of the card that was charged", "issue"),
    ("iban", ["Could you refund to my bank account instead? IBAN {iban}", "My IBAN for the refund: {iban}"], "The customer asked for the refund to go to a bank account", "issue"),
    ("escalate", ["This is ridiculous. I want to speak to a manager.", "I'm really unhappy with how this is handled. Please escalate."],
     "The customer is unhappy and asks for a manager", "escalate to a team lead"),
]


def paren_facts(t):
    bits = []
    if t.stated("order_id"):
        bits.append(f"order {t.order_id}")
    if t.stated("product") and t.issue not in ("device_pairing",):
        bits.append(t.product)
    if t.stated("amount"):
        bits.append(money_plain(t.amount, t.c.currency))
    return f" ({', '.join(bits)})" if bits else ""


def summariser_call(r, t, ts_limit, truncate=False):
    """A three-message thread on ticket t; the call happens after its last message."""
    agent = r.choice(AGENTS)
    d1 = t.created
    span = max(3600.0, (ts_limit - d1).total_seconds())
    d2 = d1 + dt.timedelta(seconds=min(span * 0.3, r.uniform(1800, 30 * 3600)))
    d3 = d2 + dt.timedelta(seconds=min(span * 0.3, r.uniform(1800, 40 * 3600)))
    ts = d3 + dt.timedelta(seconds=r.uniform(5, min(span * 0.2, 3 * 3600)))
    reply, action = r.choice(ACTIONS[t.issue])
    amount_plain = money_plain(t.amount, t.c.currency)
    reply = reply.format(amount=amount_plain)
    action = action.format(amount=amount_plain)
    kinds = ["resolved", "persists", "persists", "phone", "email", "escalate"]
    if t.issue in ("double_charge", "payment_failed"):
        kinds.append("card")
    if t.issue in ("double_charge", "refund_status", "damaged_item", "return_request", "lost_parcel"):
        kinds.append("iban")
    kind = r.choice(kinds)
    _, texts, phrase, nxt = next(f for f in FOLLOWUPS if f[0] == kind)
    pii = list(t.pii)
    vals = {}
    if kind == "phone":
        vals["phone"] = t.c.phone
    elif kind == "email":
        vals["email2"] = email_addr(r, t.c.first, t.c.last, country=t.c.country)
    elif kind == "card":
        vals["card"] = card_number(r)
    elif kind == "iban":
        vals["iban"] = iban(r, t.c.country)
    pii += list(vals.values())
    follow = r.choice(texts).format(**vals)
    nxt = "close the ticket" if nxt is None else (NEXT_STEP[t.issue] if nxt == "issue" else nxt)

    def stamp(d):
        return f"{d.day} {MONTHS[d.month - 1][:3]} {d.hour:02d}:{d.minute:02d}"

    thread = (f"Ticket {t.ticket_id} · {t.channel} · queue {t.queue}\n\n"
              f"--- {stamp(d1)} · {t.values['name']} (customer)\n{t.text.split(chr(10), 1)[1]}\n\n"
              f"--- {stamp(d2)} · {agent} (Kestrel support)\nHi {t.c.first},\n\n{reply}\n\nBest,\n{agent}\n\n"
              f"--- {stamp(d3)} · {t.values['name']} (customer)\n{follow}")
    summary = (f"{t.values['name']} {ISSUE_PHRASE[t.issue]}{paren_facts(t)}. On {day_month(d2)} {agent} {action}. "
               f"{phrase}. Next step: {nxt}.")
    messages = [{"role": "system", "content": SUMMARISER_SYSTEM}, {"role": "user", "content": thread}]
    return openai_call(r, ts=ts, agent="summariser", session=t.session, model="gpt-4o-mini", messages=messages,
                       answer=summary, params={"temperature": 0.2}, max_tokens=300, truncate=truncate,
                       metadata={"env": "prod", "team": "support", "ticket_id": t.ticket_id},
                       task="summary", pii=pii)


# ---------------------------------------------------------------------------------------------
# (e) replier: reply emails from a template and the order record
# ---------------------------------------------------------------------------------------------

REPLIER_SYSTEM = """You write reply emails for Kestrel Outfitters customer support. The order record comes from get_order. Fill in the template you are given with the facts of the order record: keep the template's wording and layout exactly, replace every {{placeholder}}, and add the optional line only when the request asks for it. Dates are written like "Tuesday, 1 December 2026"; amounts with the currency symbol, like €189.00."""

TEMPLATES = {
    "refund_confirmation": ("Subject: Your refund for order {{order_id}}\n\nDear {{first_name}},\n\nwe have refunded {{refund_amount}} "
                            "to your {{refund_method}}. Depending on your bank, the money will be in your account within "
                            "{{refund_days}} working days.\n\n[optional line]\n\nKind regards,\n{{agent}}\nKestrel Outfitters Support"),
    "shipping_delay": ("Subject: Update on your order {{order_id}}\n\nDear {{first_name}},\n\nyour order {{order_id}} is delayed with "
                       "{{carrier}}. The new estimated delivery date is {{eta}}. You can follow the parcel with tracking number "
                       "{{tracking}}.\n\n[optional line]\n\nKind regards,\n{{agent}}\nKestrel Outfitters Support"),
    "return_label": ("Subject: Your return label for order {{order_id}}\n\nDear {{first_name}},\n\nyour return {{rma}} for the "
                     "{{item}} is approved. Please print the attached label and hand the parcel to {{carrier}} by {{deadline}}. "
                     "We will refund {{amount}} as soon as the item reaches our warehouse.\n\n[optional line]\n\nKind regards,\n"
                     "{{agent}}\nKestrel Outfitters Support"),
    "replacement_sent": ("Subject: A replacement is on its way\n\nDear {{first_name}},\n\nwe have sent you a new {{item}} for order "
                         "{{order_id}}. It ships with {{carrier}}, tracking number {{tracking}}, and should arrive by {{eta}}. "
                         "There is no need to send the old one back.\n\n[optional line]\n\nKind regards,\n{{agent}}\n"
                         "Kestrel Outfitters Support"),
    "payment_reminder": ("Subject: Payment for order {{order_id}}\n\nDear {{first_name}},\n\nthe payment of {{amount}} for your order "
                         "{{order_id}} did not go through. We are holding the order for you until {{hold_until}}. You can pay "
                         "securely here: https://kestrel-outfitters.example/pay/{{order_id}}\n\n[optional line]\n\nKind regards,\n"
                         "{{agent}}\nKestrel Outfitters Support"),
    "address_update": ("Subject: Delivery address updated\n\nDear {{first_name}},\n\nwe have changed the delivery address of order "
                       "{{order_id}} to:\n\n{{address}}\n\nThe parcel will ship with {{carrier}} as planned.\n\n[optional line]\n\n"
                       "Kind regards,\n{{agent}}\nKestrel Outfitters Support"),
}
TEMPLATE_FOR = {"double_charge": ["refund_confirmation"], "refund_status": ["refund_confirmation"],
                "late_delivery": ["shipping_delay"], "lost_parcel": ["replacement_sent", "refund_confirmation"],
                "damaged_item": ["replacement_sent", "return_label"], "return_request": ["return_label"],
                "exchange_size": ["return_label"], "payment_failed": ["payment_reminder"], "wrong_address": ["address_update"]}
OPTIONAL = [
    (None, None),
    (None, None),
    ("Add an apology for the inconvenience.", "We are sorry for the inconvenience this has caused."),
    ("Add an apology for the delay.", "We are sorry that this took longer than it should have."),
    ("Add the voucher {code} as a thank-you.", "As a thank-you for your patience, here is a 10% voucher for your next order: {code}."),
]
GET_ORDER = fn_tool("get_order", "Look up an order: customer, items, payment, shipment, refund and return.",
                    {"order_id": {"type": "string", "description": "7-digit order number"}}, ["order_id"])


def replier_call(r, t, ts, template, human_facing=False, truncate=False):
    c = t.c
    cur = c.currency
    agent = r.choice(AGENTS)
    placed = (ts - dt.timedelta(days=r.randint(4, 25))).date()
    pay_kind = "card"
    pii = list(t.pii)
    payment = {"method": "card", "brand": r.choice(["visa", "mastercard", "amex"]), "last4": digits(r, 4)}
    refund_method = f"{payment['brand'].capitalize() if payment['brand'] != 'amex' else 'American Express'} card ending in {payment['last4']}"
    if r.random() < 0.12:  # an old payment integration still returns the full card number
        pan = card_number(r)
        payment["card_number"] = pan
        pii.append(pan)
    if template == "refund_confirmation" and r.random() < 0.3:
        pay_kind = "bank"
        acct = iban(r, c.country)
        pii.append(acct)
        payment = {"method": "bank_transfer", "iban": acct}
        refund_method = f"bank account ending in {acct.replace(' ', '')[-4:]}"
    email = c.email
    ph = c.phone if r.random() < 0.7 else None
    pii += [email] + ([ph] if ph else [])
    ip = ipv4(r) if r.random() < 0.7 else ipv6(r)
    pii.append(ip)
    record = {"order_id": t.order_id, "status": "delivered", "placed_at": placed.isoformat(),
              "customer": {"id": c.customer_id, "name": c.name, "email": email, "phone": ph, "tier": c.tier},
              "shipping_address": c.address,
              "items": [{"sku": t.sku, "name": t.product, "qty": 1, "unit_price": t.amount}],
              "total": t.amount, "currency": cur, "payment": payment, "checkout_ip": ip}
    eta = (ts + dt.timedelta(days=r.randint(2, 6))).date()
    fill = {"order_id": t.order_id, "first_name": c.first, "agent": agent}
    if template == "refund_confirmation":
        record["status"] = "refund_issued"
        record["refund"] = {"amount": t.amount, "status": "issued", "method": payment["method"]}
        fill.update(refund_amount=money_plain(t.amount, cur), refund_method=refund_method,
                    refund_days="1-2" if pay_kind == "bank" else "3-5")
    elif template == "shipping_delay":
        record["status"] = "shipped"
        record["shipment"] = {"carrier": t.carrier, "tracking": t.tracking, "eta": eta.isoformat(), "delay_reason": r.choice(["depot backlog", "weather", "customs check", "missed connection"])}
        fill.update(carrier=t.carrier, eta=long_date(eta), tracking=t.tracking)
    elif template == "return_label":
        rma = f"RMA-{r.randint(50000, 69999)}"
        deadline = (ts + dt.timedelta(days=14)).date()
        record["return"] = {"rma": rma, "label": "prepaid", "carrier": t.carrier, "drop_off_by": deadline.isoformat()}
        fill.update(rma=rma, item=t.product, carrier=t.carrier, deadline=long_date(deadline), amount=money_plain(t.amount, cur))
    elif template == "replacement_sent":
        trk = tracking(r, t.carrier)
        record["replacement"] = {"sku": t.sku, "carrier": t.carrier, "tracking": trk, "eta": eta.isoformat()}
        fill.update(item=t.product, carrier=t.carrier, tracking=trk, eta=long_date(eta))
    elif template == "payment_reminder":
        record["status"] = "awaiting_payment"
        hold = (ts + dt.timedelta(days=2)).date()
        record["hold_until"] = hold.isoformat()
        fill.update(amount=money_plain(t.amount, cur), hold_until=long_date(hold))
    elif template == "address_update":
        record["status"] = "placed"
        new = {"line1": street_line(r, c.country), "city": c.address["city"], "postcode": c.address["postcode"], "country": c.country}
        record["shipping_address"] = new
        record["previous_address"] = c.address
        record["shipment"] = {"carrier": t.carrier}
        fill.update(address=postal_address(c.name, new), carrier=t.carrier)
    opt_req, opt_line = r.choice(OPTIONAL)
    if opt_req and "{code}" in opt_req:
        code = "THANKS-" + rand_str(r, 6, string.ascii_uppercase + string.digits)
        opt_req, opt_line = opt_req.format(code=code), opt_line.format(code=code)
    tmpl = TEMPLATES[template]
    email_text = tmpl
    for k, v in fill.items():
        email_text = email_text.replace("{{" + k + "}}", v)
    email_text = email_text.replace("[optional line]\n\n", (opt_line + "\n\n") if opt_line else "")
    assert "{{" not in email_text, (template, email_text)
    ask = f"Ticket {t.ticket_id}: write the {template} email for order {t.order_id}. Sign as {agent}."
    if opt_req:
        ask += " " + opt_req
    ask += "\n\nTemplate:\n" + tmpl
    tc = tool_call(r, "get_order", {"order_id": t.order_id})
    messages = [{"role": "system", "content": REPLIER_SYSTEM}, {"role": "user", "content": ask},
                {"role": "assistant", "content": None, "tool_calls": [tc]},
                {"role": "tool", "tool_call_id": tc["id"], "content": jdump(record)}]
    meta = {"env": "prod", "team": "support", "ticket_id": t.ticket_id, "template": template,
            "human_facing": human_facing}
    meta["mode"] = "auto-send" if human_facing else "draft-for-review"
    return openai_call(r, ts=ts, agent="replier", session=t.session, model="gpt-4o", messages=messages, answer=email_text,
                       tools=[GET_ORDER], params={"temperature": 0.3}, max_tokens=600, truncate=truncate, metadata=meta,
                       task="reply", pii=pii, kind="hci" if human_facing else "ok")


# ---------------------------------------------------------------------------------------------
# (f) planner: escalation plans, free text, on the Anthropic Messages API
# ---------------------------------------------------------------------------------------------

PLANNER_SYSTEM = ("You are the escalation planner of Kestrel Outfitters customer support. For an escalated case, write a "
                  "numbered plan of concrete steps for the support team: what to check, what to fix, who does it, what to "
                  "tell the customer and when to close the case. Be brief and specific.")
PLAYBOOK = """Kestrel Outfitters escalation playbook (v7, November 2026)

Scope. A case is escalated when a customer has contacted us three times or more about the same problem, asks for a manager, threatens a chargeback or a public complaint, when an order is worth more than 500 in any currency, when a partner integration fails, or when an account may be compromised. Escalations are owned by the tier-2 team; the planner writes the first plan and the owner adjusts it.

Money. Team leads approve refunds and goodwill above 500 (USD, EUR, GBP) or 75,000 JPY. Goodwill vouchers: standard tier up to 10%, silver up to 15%, gold up to 20% of the order value, once per case. Shipping costs can always be waived. Duplicate charges are refunded at once, without waiting for the bank; pre-authorisations drop off after 7 days and need no refund. Refunds to a bank account need the account holder's name and are paid within 2 working days; card refunds take 3 to 5.

Shipping. Carrier investigations take up to 5 working days (10 for international parcels). Send a replacement without waiting when the customer is gold tier, the parcel is worth more than 300, or the customer needs it for a date they told us. Lost-parcel claims need the tracking number and the declared value. Redirects are possible only before the parcel reaches the last depot.

Returns and damage. Damaged items: ask for one photo, then replace or refund as the customer prefers. Three damage reports for the same product within 30 days: flag the batch for quality control and tell the product team. Returns are free within 30 days; after that only for defects.

Accounts and security. Never change an email address, password or payout data without verifying the customer through the code sent to the address on file. A suspected takeover: lock the account, sign out all sessions, cancel unshipped orders placed from unknown devices, involve Trust & Safety, and tell the customer within 4 hours. Personal data requests (access, deletion) are answered within 30 days; invoices are kept for 10 years as the law requires.

Partners and technical issues. Partner API failures are handled by partner engineering; collect the request ids, the time the failures started and the source IP addresses. Keys that a partner has exposed in a ticket are revoked and reissued at once. TrailSync device faults: collect the watch logs through the app; a device that cannot be fixed remotely is replaced under warranty.

Communication. The first answer to an escalated customer goes out within 4 working hours and names one person who owns the case. Promise dates only when we control them. Every plan ends with the condition for closing the case and a check after 7 days.

Tone. Apologise once, specifically; do not blame the carrier or the bank to the customer; never share internal notes, other customers' data or full payment details."""

PLAN_TOOLS = [
    {"name": "lookup_customer", "description": "The customer's record: contact details, tier, orders and contacts of the last 12 months.",
     "input_schema": {"type": "object", "properties": {"customer_id": {"type": "string", "description": "id like C-10442"}}, "required": ["customer_id"]}},
    {"name": "get_order", "description": "Order details: items, payment, shipment, refunds.",
     "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}},
]

INVESTIGATE = {
    "billing": ["Check the payment provider's records for order {order_id} and confirm which charges were captured.",
                "Compare the charges on order {order_id} with the refunds already issued.",
                "Look for other orders of {cid} with the same payment problem in the last 90 days.",
                "Ask the payments team whether the provider had an incident on the day of the charge."],
    "shipping": ["Ask {carrier} for the delivery scans and the GPS position of the delivery.",
                 "Check whether other parcels on the same {carrier} route were delayed this week.",
                 "Confirm the address on order {order_id} against what the customer entered at checkout.",
                 "Check the warehouse dispatch log for order {order_id}."],
    "returns": ["Ask the customer for one photo of the damage if we do not have it yet.",
                "Check how many damage reports the {product} had in the last 30 days.",
                "Confirm whether the return for order {order_id} has been scanned at the warehouse."],
    "account": ["Review the logins and password changes of the last 30 days on the account.",
                "Check for orders placed from unfamiliar devices or IP addresses.",
                "Verify the customer through the code sent to the address on file before changing anything."],
    "device_pairing": ["Reproduce the problem on a test watch with the same firmware and app version.",
                       "Check how many pairing complaints came in since the firmware release.",
                       "Ask the customer for the app version and the phone model if we do not have them."],
    "api_error": ["Pull the gateway logs of the failing requests and group them by status code.",
                  "Check the recent deploys and certificate changes for anything that matches the start of the failures.",
                  "Confirm from which IP addresses the partner calls us and whether they are on the allow-list."],
    "product": ["Ask the product specialists for a definitive answer.",
                "Check the data sheet of the {product} and the latest supplier update."],
}
REMEDY = {
    "double_charge": ["Refund the duplicate charge of {amount} today.", "If the second charge is only a pre-authorisation, tell the customer it drops off within 7 days."],
    "refund_status": ["Push the refund of {amount} through manually if it is stuck.", "Send the customer the refund reference so that their bank can trace it."],
    "invoice_request": ["Issue the VAT invoice with the company details and send it as a PDF."],
    "payment_failed": ["Hold the order for another 48 hours.", "Send a fresh payment link and offer PayPal or bank transfer."],
    "late_delivery": ["Send a replacement by express if the parcel has not moved in 5 working days.", "Refund the shipping cost."],
    "lost_parcel": ["File a lost-parcel claim with {carrier}.", "Send a replacement by express today."],
    "wrong_address": ["Ask {carrier} to redirect the parcel to the new address.", "If the redirect fails, reship to the new address when the parcel comes back."],
    "damaged_item": ["Ship a replacement {product} without waiting for the return.", "Offer a full refund of {amount} as an alternative."],
    "return_request": ["Approve the return outside the usual window as a goodwill gesture.", "Refund {amount} as soon as the return is scanned."],
    "exchange_size": ["Ship the new size now, before the return arrives.", "Waive the shipping cost of the exchange."],
    "login_problem": ["Reset the login manually and send a new link.", "Remove the rate-limit block on the account."],
    "account_deletion": ["Delete the account and personal data; keep only the invoices.", "Cancel the newsletter subscription at once."],
    "email_change": ["Change the email address after the verification code is confirmed."],
    "security_report": ["Lock the account and sign out all sessions.", "Cancel unshipped orders placed from the unknown device.", "Involve Trust & Safety."],
    "device_pairing": ["Collect the watch logs through the app and send them to the device team.", "Replace the watch under warranty if it cannot be fixed remotely."],
    "api_error": ["Hand the failing request ids to partner engineering.", "Revoke and reissue any key the partner exposed in the ticket."],
    "product_question": ["Send the customer a specialist's answer with a product recommendation."],
}
COMMS = ["Call the customer today and explain what we are doing; confirm it by email.",
         "Send a personal email from the case owner with the plan and a date for the next update.",
         "Answer within 4 working hours and name one person who owns the case.",
         "Tell the customer plainly what went wrong and what happens next; apologise once."]
GOODWILL = ["Offer a {pct}% goodwill voucher ({tier} tier).", "Waive the shipping cost of the next order.",
            "Offer free express shipping on the replacement."]
PREVENT = ["Add the case to the weekly carrier review.", "Ask the payments team for the root cause.",
           "Flag the {product} batch for quality control.", "Add a note to the support wiki so that the next agent knows the fix.",
           "Raise the pattern in the Monday operations meeting."]
CLOSE = ["Close the case once the customer confirms; check back after 7 days.",
         "Keep the case open until the customer confirms, then check back after 7 days.",
         "Close when the refund or replacement is confirmed; follow up after 7 days."]
OWNERS = {"billing": "billing team", "shipping": "logistics", "returns": "returns desk", "account": "Trust & Safety",
          "technical": "partner engineering", "product": "product specialists"}
INTROS = ["", "", "Plan for {esc}:", "Here is the plan for {esc}.", "Proposed plan:", "{esc} – plan"]
RISKS = ["", "", "", "Risk: the customer may file a chargeback if we do not answer today.",
         "Risk: a public complaint; keep the tone calm and factual.", "Note: check the refund limit before promising an amount.",
         "Watch out: do not promise a delivery date we do not control."]
ESC_REASONS = ["third contact about the same problem", "customer asked for a manager", "threatens a chargeback",
               "order value above 500", "mentioned us on social media", "partner integration failure", "possible account takeover"]


class Case:
    def __init__(self, r, t, n):
        self.t = t
        self.esc = f"E-{3100 + n}"
        self.reason = ("partner integration failure" if t.issue == "api_error" else
                       "possible account takeover" if t.issue == "security_report" else r.choice(ESC_REASONS[:5]))
        self.contacts = r.randint(2, 6)
        self.days = r.randint(2, 19)
        self.since = r.randint(2016, 2026)
        self.last_agent = r.choice(AGENTS)
        self.show_phone = r.random() < 0.5


def case_prompt(case):
    t, c = case.t, case.t.c
    contact = c.email + (f", {c.phone}" if case.show_phone else "")
    lines = [f"Escalation {case.esc} · reason: {case.reason}",
             f"Customer: {c.name} ({c.customer_id}), {c.tier} tier, customer since {case.since}",
             f"Contact: {contact}"]
    if t.queue in ("billing", "shipping", "returns"):
        lines.append(f"Order: {t.order_id} · {t.product} · {money_plain(t.amount, c.currency)}")
    lines += [f"Queue: {t.queue} · open for {case.days} days · {case.contacts} contacts so far · last agent: {case.last_agent}",
              "", "Customer's last message:", t.body, "", "Write the plan."]
    return "\n".join(lines)


def plan_text(r, case):
    t, c = case.t, case.t.c
    f = {"order_id": t.order_id, "cid": c.customer_id, "carrier": t.carrier, "product": t.product,
         "amount": money_plain(t.amount, c.currency), "esc": case.esc, "tier": c.tier,
         "pct": {"standard": 10, "silver": 15, "gold": 20}[c.tier]}
    steps = []
    inv = INVESTIGATE.get(t.issue) or INVESTIGATE[t.queue]
    steps += r.sample(inv, min(len(inv), r.randint(1, 2)))
    rem = REMEDY[t.issue]
    steps += r.sample(rem, min(len(rem), r.randint(1, 2)))
    if r.random() < 0.3:
        r.shuffle(steps)
    steps.append(r.choice(COMMS))
    if t.queue in ("billing", "shipping", "returns") and (c.tier != "standard" or case.contacts > 3 or r.random() < 0.3):
        steps.append(r.choice(GOODWILL))
    if r.random() < 0.5:
        steps.append(r.choice(PREVENT))
    steps.append(r.choice(CLOSE))
    steps = [s.format(**f) for s in steps]
    style = r.randrange(4)
    owner = OWNERS[t.queue]
    out = []
    intro = r.choice(INTROS).format(**f)
    if intro:
        out += [intro, ""]
    for i, s in enumerate(steps, 1):
        if style == 1 and i == 1:
            s += f" (owner: {owner})"
        if style == 2:
            out.append(f"{i}. **{s.split(' ')[0]}** {' '.join(s.split(' ')[1:])}")
        elif style == 3:
            out.append(f"- [ ] {s}")
        else:
            out.append(f"{i}. {s}")
    risk = r.choice(RISKS)
    if risk:
        out += ["", risk]
    return "\n".join(out)


def anthropic_line(r, *, ts, session, model, system, messages, content, stop_reason, tools=None, params=None,
                   metadata=None, stream=False, cached=None, max_tokens=2048, out_tokens=None):
    req = {"model": model, "max_tokens": max_tokens}
    req.update(params or {})
    if stream:
        req["stream"] = True
    req["system"] = system
    req["messages"] = messages
    if tools:
        req["tools"] = tools
    sys_text = system if isinstance(system, str) else "\n".join(b["text"] for b in system)
    msg_tok = 0
    for m in messages:
        if isinstance(m["content"], str):
            msg_tok += 4 + ntok(m["content"])
        else:
            msg_tok += 4 + sum(ntok(b.get("text") or jdump(b.get("input", b.get("content", "")))) for b in m["content"])
    tool_tok = int(ntok(jdump(tools)) * 0.7) + 300 if tools else 0
    sys_tok = ntok(sys_text) + 8
    usage = {"input_tokens": msg_tok + 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if cached == "read":
        usage["cache_read_input_tokens"] = sys_tok + tool_tok
    elif cached == "write":
        usage["cache_creation_input_tokens"] = sys_tok + tool_tok
    else:
        usage["input_tokens"] += sys_tok + tool_tok
    out_tok = sum(ntok(b.get("text") or b.get("thinking") or jdump(b.get("input", {}))) + (12 if b["type"] == "tool_use" else 0) for b in content)
    out_tok = out_tokens or out_tok
    usage["output_tokens"] = out_tok
    kind = "ok"
    if stop_reason == "max_tokens":
        kind = "truncated"
    mid = msg_id(r)
    body = {"id": mid, "type": "message", "role": "assistant", "model": SNAPSHOT[model], "content": content,
            "stop_reason": stop_reason, "stop_sequence": None, "usage": dict(usage, service_tier="standard")}
    if stream:
        events = [{"type": "message_start", "message": {"id": mid, "type": "message", "role": "assistant", "model": SNAPSHOT[model],
                                                         "content": [], "stop_reason": None, "stop_sequence": None,
                                                         "usage": {"input_tokens": usage["input_tokens"],
                                                                   "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                                                                   "cache_read_input_tokens": usage["cache_read_input_tokens"],
                                                                   "output_tokens": 1, "service_tier": "standard"}}}]
        for i, b in enumerate(content):
            if b["type"] == "text":
                events.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
                if i == 0:
                    events.append({"type": "ping"})
                text = b["text"]
                pos = 0
                while pos < len(text):
                    n = r.randint(40, 160)
                    events.append({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": text[pos:pos + n]}})
                    pos += n
            else:  # tool_use
                events.append({"type": "content_block_start", "index": i,
                               "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})
                js = json.dumps(b["input"], ensure_ascii=False)
                events.append({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": ""}})
                pos = 0
                while pos < len(js):
                    n = r.randint(8, 30)
                    events.append({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": js[pos:pos + n]}})
                    pos += n
            events.append({"type": "content_block_stop", "index": i})
        events.append({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                       "usage": {"output_tokens": out_tok}})
        events.append({"type": "message_stop"})
        resp = events
    else:
        resp = body
    c = cost(model, usage["input_tokens"], out_tok, usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"])
    line = {"request": req, "response": resp, "timestamp": iso(ts),
            "latency_ms": latency(r, model, out_tok, usage["input_tokens"]), "agent": "planner", "session_id": session,
            "cost_usd": c, "metadata": metadata or {"env": "prod", "team": "support"}}
    return line, kind


class PlannerState:
    def __init__(self):
        self.cache_day = set()  # days on which the cached system prompt was already written


def planner_system(r, state, ts):
    """The short system prompt as a string, or the playbook as cached text blocks."""
    if r.random() < 0.55:
        return PLANNER_SYSTEM, None
    day = ts.date().isoformat()
    cached = "read" if day in state.cache_day else "write"
    state.cache_day.add(day)
    return [{"type": "text", "text": PLANNER_SYSTEM},
            {"type": "text", "text": PLAYBOOK, "cache_control": {"type": "ephemeral"}}], cached


def planner_session(r, state, case, ts, mode, model, truncate=False):
    """The calls of one escalation: 'plain', 'tools' (two calls), 'thinking' or 'stream'."""
    t, c = case.t, case.t.c
    calls = []
    pii = list(t.pii) + [c.email] + ([c.phone] if case.show_phone else [])
    system, cached = planner_system(r, state, ts)
    meta = {"env": "prod", "team": "support", "escalation": case.esc, "ticket_id": t.ticket_id}
    user = {"role": "user", "content": case_prompt(case)}
    params = {} if mode == "thinking" else {"temperature": round(r.choice([0.3, 0.5, 0.7]), 1)}
    if mode == "thinking":
        params["thinking"] = {"type": "enabled", "budget_tokens": 2048}
    messages = [user]
    tools = None
    if mode == "tools":
        tools = PLAN_TOOLS
        tu = {"type": "tool_use", "id": toolu_id(r), "name": "lookup_customer", "input": {"customer_id": c.customer_id}}
        first = [{"type": "text", "text": r.choice(["I'll look up the customer's history first.", "Let me check the customer record before planning.",
                                                     "First, the customer's history."])}, tu]
        line, kind = anthropic_line(r, ts=ts, session=case.esc, model=model, system=system, messages=messages, content=first,
                                    stop_reason="tool_use", tools=tools, params=params, metadata=meta, cached=cached)
        calls.append(Call(ts, "planner", line, "planning", kind, pii, "planner"))
        ip = ipv4(r) if r.random() < 0.6 else ipv6(r)
        record = {"customer_id": c.customer_id, "name": c.name, "email": c.email, "phone": c.phone, "tier": c.tier,
                  "address": c.address, "last_login": {"ip": ip, "at": iso(ts - dt.timedelta(hours=r.randint(1, 90)))},
                  "orders_12m": r.randint(1, 14), "contacts_12m": case.contacts + r.randint(0, 4),
                  "open_refunds": [{"order_id": t.order_id, "amount": t.amount, "currency": c.currency}] if t.queue == "billing" else []}
        pii += [c.email, c.phone, record["last_login"]["ip"]]
        if r.random() < 0.25:
            record["payout_iban"] = iban(r, c.country)
            pii.append(record["payout_iban"])
        result_blocks = [{"type": "tool_result", "tool_use_id": tu["id"], "content": jdump(record)}]
        if r.random() < 0.4:
            result_blocks.append({"type": "text", "text": "Now write the plan."})
        messages = [user, {"role": "assistant", "content": first}, {"role": "user", "content": result_blocks}]
        ts = ts + dt.timedelta(milliseconds=line["latency_ms"] + r.randint(80, 900))
        cached = "read" if cached else None  # the second call reads what the first one cached
    plan = plan_text(r, case)
    content = [{"type": "text", "text": plan}]
    if mode == "thinking":
        thought = (f"The case is {case.reason}; {c.tier} tier, {case.contacts} contacts in {case.days} days. "
                   f"Queue {t.queue}, so {OWNERS[t.queue]} owns the fix. "
                   + r.choice(["The customer mainly wants certainty about dates.", "Speed matters more than the amount here.",
                               "Check the refund limit before offering anything.", "Keep the plan short: four or five steps."]))
        content = [{"type": "thinking", "thinking": thought, "signature": rand_str(r, 220, B62 + "+/") + "=="}] + content
    stop = "end_turn"
    max_tokens = 4096 if mode == "thinking" else 2048
    if truncate:  # a deployment with max_tokens set too low
        text = content[-1]["text"]
        max_tokens = [m for m in (32, 48, 64, 96, 128, 160) if m < ntok(text) * 0.8][-1]
        content[-1] = {"type": "text", "text": text[:text.rfind(" ", 0, max_tokens * 4)]}
        stop = "max_tokens"
    line, kind = anthropic_line(r, ts=ts, session=case.esc, model=model, system=system, messages=messages, content=content,
                                stop_reason=stop, tools=tools, params=params, metadata=meta, stream=(mode == "stream"),
                                cached=cached, max_tokens=max_tokens, out_tokens=max_tokens if truncate else None)
    calls.append(Call(ts, "planner", line, "planning", kind, pii, "planner"))
    return calls


ANTHROPIC_ERRORS = {529: ("overloaded_error", "Overloaded"), 500: ("api_error", "Internal server error"),
                    429: ("rate_limit_error", "This request would exceed the rate limit for your organization of 400,000 input tokens per minute. Please reduce the prompt length or try again later.")}


def anthropic_error(r, ok_call, status, backoff_s):
    ts = ok_call.ts - dt.timedelta(seconds=backoff_s)
    etype, emsg = ANTHROPIC_ERRORS[status]
    line = {"request": ok_call.line["request"], "response": {"type": "error", "error": {"type": etype, "message": emsg},
                                                             "request_id": req_id(r)},
            "status": status, "timestamp": iso(ts), "latency_ms": r.randint(150, 2500), "agent": "planner",
            "session_id": ok_call.line["session_id"], "cost_usd": 0, "metadata": ok_call.line["metadata"]}
    return Call(ts, "planner", line, "planning", "error", ok_call.pii, "planner")


# ---------------------------------------------------------------------------------------------
# human-facing calls: the live chat (agent support-chat) and the order-status widget
# (metadata human_facing: true); collect must leave both out
# ---------------------------------------------------------------------------------------------

CHAT_SYSTEM = ("You are Kestrel, the live chat assistant of Kestrel Outfitters (kestrel-outfitters.example). You are talking "
               "with a customer in real time. Be warm and brief, answer in the customer's language, never ask for full card "
               "numbers, and hand over to a human agent when the customer asks for one.")


def chat_script(r, c):
    """A live chat conversation: list of (customer, assistant) turns, and the personal data in it."""
    prod = r.choice(PRODUCTS)[0]
    oid = order_id(r)
    carrier = r.choice(CARRIERS[c.country])
    trk = tracking(r, carrier)
    eta = long_date((T0 + dt.timedelta(days=r.randint(3, 12))).date())
    k = r.randrange(6)
    pii = []
    if k == 0:
        turns = [(r.choice([f"hi! where is my order {oid}?", f"Hello, my order {oid} hasn't arrived yet, can you check?", f"order {oid} status pls"]),
                  f"Hi {c.first}! Your order {oid} is on its way with {carrier}, tracking number {trk}. It should arrive by {eta}."),
                 ("great, can I change the delivery address? I'm not home that day",
                  f"It is already with {carrier}, so I can't change the address from here, but you can redirect it on the {carrier} website with the tracking number. Anything else I can do for you?"),
                 ("no that's all, thanks!", f"You're welcome, {c.first}! Enjoy your {prod}.")]
    elif k == 1:
        size = r.choice(SIZES_APPAREL)
        turns = [(f"Hi, I usually wear {size}. Which size should I take in the {prod}?",
                  f"Hi! The {prod} runs true to size, so {size} should fit well. If you like to layer underneath, take one size up."),
                 ("ok, and can I send it back if it doesn't fit?", "Of course: returns are free within 30 days, as long as it's unworn with the tags on."),
                 ("perfect, thank you", "Happy to help. Have a great trip!")]
    elif k == 2:
        card = card_number(r)
        pii.append(card)
        turns = [(f"my card {card} keeps getting declined at checkout??",
                  "I'm sorry about that! For your security, please don't share full card numbers in the chat; I have removed it from our notes. Declines usually come from the bank's fraud check. Could you try again, or use PayPal?"),
                 ("tried again, same thing", "Thanks for trying. I'll pass you to a colleague from our payments team, who can see more details. One moment please.")]
    elif k == 3:
        em = c.email
        pii.append(em)
        turns = [(f"I can't log in. My email is {em}", f"Thanks! I've sent a password reset link to {em}. It can take a couple of minutes; please check your spam folder too."),
                 ("got it, I'm in. thanks!", "Great to hear! Anything else I can help with?")]
    elif k == 4:
        ph = c.phone
        pii.append(ph)
        turns = [(f"Can someone call me about a return? {ph}", f"Of course. I've booked a call back to {ph} today between 2 and 4 pm. Is that OK?"),
                 ("yes thanks", "Done! A colleague from the returns desk will call you then.")]
    else:
        turns = [(f"Is the {prod} back in stock?", f"Yes, the {prod} is back in stock in most sizes and ships within 1-2 working days."),
                 ("do you ship to Norway?", "We don't ship to Norway yet, sorry! We currently deliver to the EU, the UK, the US and Japan."),
                 ("ok too bad", "I understand. If you like, I can notify you when we add Norway.")]
    return turns, pii


def chat_calls(r, n_calls):
    calls = []
    seen = set()
    while len(calls) < n_calls:
        c = Customer(r)
        turns, pii = chat_script(r, c)
        if turns[0] in seen:  # an identical conversation would be an identical record
            continue
        seen.add(turns[0])
        session = "chat-" + rand_str(r, 8, "0123456789abcdef")
        ts = rand_time(r)
        history = [{"role": "system", "content": CHAT_SYSTEM}]
        for user_text, answer in turns:
            if len(calls) >= n_calls:
                break
            ts = ts + dt.timedelta(seconds=r.randint(8, 90))
            messages = history + [{"role": "user", "content": user_text}]
            call = openai_call(r, ts=ts, agent="support-chat", session=session, model="gpt-4o-mini", messages=messages,
                               answer=answer, params={"temperature": 0.7},
                               metadata={"env": "prod", "team": "support", "channel": "live-chat"},
                               task="support-chat", pii=pii, kind="hci")
            calls.append(call)
            history = messages + [{"role": "assistant", "content": answer}]
    return calls


STATUS_SYSTEM = ("You answer customers in the order-status widget on kestrel-outfitters.example. Use the order status from "
                 "get_order_status and answer in one or two friendly sentences in the customer's language.")
GET_STATUS = fn_tool("get_order_status", "Shipping status of an order.", {"order_id": {"type": "string"}}, ["order_id"])


def order_status_calls(r, n):
    calls = []
    for _ in range(n):
        c = Customer(r, weighted(r, [("US", 4), ("GB", 2), ("IE", 1)]))
        oid = order_id(r)
        carrier = r.choice(CARRIERS[c.country])
        trk = tracking(r, carrier)
        ts = rand_time(r)
        eta = (ts + dt.timedelta(days=r.randint(1, 5))).date()
        status = r.choice(["shipped", "out_for_delivery", "processing"])
        q = r.choice([f"where is order {oid}", f"Hi, when will my order #{oid} arrive?", f"status of {oid}?",
                      f"Has my order {oid} shipped yet? My email is {c.email}"])
        pii = [c.email] if c.email in q else []
        tc = tool_call(r, "get_order_status", {"order_id": oid})
        rec = {"order_id": oid, "status": status, "carrier": carrier, "tracking": trk, "eta": eta.isoformat(),
               "ship_to_city": c.address["city"]}
        if status == "processing":
            answer = f"Your order {oid} is being packed in our warehouse and should ship within one working day. You'll get the tracking number by email."
        elif status == "shipped":
            answer = f"Good news: order {oid} is on its way with {carrier} (tracking {trk}) and should arrive by {long_date(eta)}."
        else:
            answer = f"Your order {oid} is out for delivery with {carrier} today. Tracking number: {trk}."
        messages = [{"role": "system", "content": STATUS_SYSTEM}, {"role": "user", "content": q},
                    {"role": "assistant", "content": None, "tool_calls": [tc]},
                    {"role": "tool", "tool_call_id": tc["id"], "content": jdump(rec)}]
        calls.append(openai_call(r, ts=ts, agent="order-status", session="w-" + rand_str(r, 8, "0123456789abcdef"),
                                 model="gpt-4o-mini", messages=messages, answer=answer, tools=[GET_STATUS],
                                 params={"temperature": 0.2},
                                 metadata={"env": "prod", "team": "web", "channel": "web-widget", "human_facing": True},
                                 task="order-status", pii=pii, kind="hci"))
    return calls


# ---------------------------------------------------------------------------------------------
# the whole month: who calls what, failures, duplicates, files
# ---------------------------------------------------------------------------------------------

COMPLETE = {"routing": 900, "extraction": 700, "sql": 400, "summary": 400, "reply": 350, "planning": 250}
TRUNCATED = {"extraction": 5, "sql": 7, "summary": 15, "reply": 8, "planning": 5}
GATEWAY_ERRORS = {429: 40, 500: 20}
PLANNER_ERRORS = {529: 6, 500: 3, 429: 3}
HCI = {"support-chat": 130, "order-status": 50, "reply (human_facing: true)": 20}
DUPLICATES = {"gateway": 40, "planner": 5}
PLANNER_MODES = {"tools": 35, "thinking": 25, "stream": 25, "plain": 130}  # tools sessions make two calls each
GZ_DAYS = 9  # 2026-11-20 .. 28 are rotated and gzip-compressed; the last day is still plain
TASKS = [("routing", "intake-router"), ("extraction", "extractor"), ("sql", "analyst"), ("summary", "summariser"),
         ("reply", "replier"), ("planning", "planner")]


def clamp(r, ts, after):
    limit = T_END - dt.timedelta(minutes=5)
    if ts >= limit:
        ts = after + (limit - after) * r.uniform(0.3, 0.95)
    return ts


def build():
    calls = []
    r = rng_for("tickets")
    tickets = [Ticket(r, i, rand_time(r)) for i in range(COMPLETE["routing"])]
    english = [t for t in tickets if t.lang == "en"]

    # (a) routing
    r = rng_for("router")
    routed = {}
    for t in tickets:
        c = router_call(r, t, t.created + dt.timedelta(seconds=r.uniform(2, 25)))
        routed[t.ticket_id] = c
        calls.append(c)

    # (b) extraction: most routed tickets, right after routing
    r = rng_for("extractor")
    picked = r.sample(tickets, COMPLETE["extraction"] + TRUNCATED["extraction"])
    for i, t in enumerate(picked):
        rc = routed[t.ticket_id]
        ts = rc.ts + dt.timedelta(milliseconds=rc.line["latency_ms"] + r.randint(200, 3000))
        calls.append(extractor_call(r, t, ts, truncate=i >= COMPLETE["extraction"]))

    # (d) summaries of English ticket threads
    r = rng_for("summariser")
    picked = r.sample(english, COMPLETE["summary"] + TRUNCATED["summary"])
    for i, t in enumerate(picked):
        calls.append(summariser_call(r, t, T_END - dt.timedelta(minutes=10), truncate=i >= COMPLETE["summary"]))

    # (e) reply emails for English tickets that have a template
    r = rng_for("replier")
    n_reply = COMPLETE["reply"] + TRUNCATED["reply"] + HCI["reply (human_facing: true)"]
    candidates = [t for t in english if t.issue in TEMPLATE_FOR]
    extra = 0
    while len(candidates) < n_reply:  # tickets that came in by phone and were never routed
        extra += 1
        candidates.append(Ticket(r, 5000 + extra, rand_time(r), issue=r.choice(list(TEMPLATE_FOR)), lang="en"))
    picked = r.sample(candidates, n_reply)
    for i, t in enumerate(picked):
        ts = clamp(r, t.created + dt.timedelta(seconds=r.uniform(900, 8 * 3600)), t.created)
        hf = i >= COMPLETE["reply"] + TRUNCATED["reply"]
        trunc = COMPLETE["reply"] <= i < COMPLETE["reply"] + TRUNCATED["reply"]
        calls.append(replier_call(r, t, ts, r.choice(TEMPLATE_FOR[t.issue]), human_facing=hf, truncate=trunc))

    # (c) SQL for the ops dashboards, in sessions of a few questions
    r = rng_for("analyst")
    customers = [t.c for t in tickets]
    n_sql = COMPLETE["sql"] + TRUNCATED["sql"]
    trunc_at = set(r.sample(range(n_sql), TRUNCATED["sql"]))
    i = 0
    while i < n_sql:
        session = "an-" + rand_str(r, 8, "0123456789abcdef")
        ts = rand_time(r)
        for _ in range(r.randint(1, 5)):
            if i >= n_sql:
                break
            calls.append(analyst_call(r, ts, session, customers, truncate=i in trunc_at))
            ts = clamp(r, ts + dt.timedelta(seconds=r.uniform(20, 600)), ts)
            i += 1

    # (f) escalation plans (Anthropic)
    r = rng_for("planner")
    state = PlannerState()
    sessions = [m for m, n in PLANNER_MODES.items() for _ in range(n)] + ["truncated"] * TRUNCATED["planning"]
    r.shuffle(sessions)
    pool = sorted(english, key=lambda t: (t.priority != "high", t.ticket_id))[:len(sessions) + 60]
    picked = r.sample(pool, len(sessions))
    for n, (mode, t) in enumerate(zip(sessions, picked)):
        case = Case(r, t, n)
        ts = clamp(r, t.created + dt.timedelta(seconds=r.uniform(3600, 60 * 3600)), t.created)
        model = "claude-haiku-4-5" if mode == "plain" and r.random() < 0.2 else "claude-sonnet-4-5"
        if mode == "truncated":
            calls += planner_session(r, state, case, ts, "plain", model, truncate=True)
        else:
            calls += planner_session(r, state, case, ts, mode, model)

    # human-facing calls
    calls += chat_calls(rng_for("chat"), HCI["support-chat"])
    calls += order_status_calls(rng_for("order-status"), HCI["order-status"])

    # failed first attempts, logged before the successful retry
    r = rng_for("errors")
    ok_gateway = [c for c in calls if c.dest == "gateway" and c.kind == "ok"]
    failed = r.sample(ok_gateway, sum(GATEWAY_ERRORS.values()))
    statuses = [s for s, n in GATEWAY_ERRORS.items() for _ in range(n)]
    for c, s in zip(failed, statuses):
        calls.append(openai_error(r, c, s, r.uniform(0.3, 3.0) if s == 429 else r.uniform(1, 8)))
    ok_planner = [c for c in calls if c.dest == "planner" and c.kind == "ok"]
    failed = r.sample(ok_planner, sum(PLANNER_ERRORS.values()))
    statuses = [s for s, n in PLANNER_ERRORS.items() for _ in range(n)]
    for c, s in zip(failed, statuses):
        calls.append(anthropic_error(r, c, s, r.uniform(1, 20)))

    # two routed calls of the last day went through the edge proxy whose log is damaged (logs/broken/)
    routed_29 = sorted([c for c in calls if c.task == "routing" and c.kind == "ok" and c.ts.date() == dt.date(2026, 11, 29)],
                       key=lambda c: c.ts)
    first = r.choice([c for c in routed_29 if 10 <= c.ts.hour < 13])
    second = next(c for c in routed_29 if c.ts > first.ts + dt.timedelta(minutes=50))
    first.dest = second.dest = "broken"
    return calls, tickets


def broken_lines(calls):
    """The edge proxy's log: two good calls around four lines that collect must quarantine."""
    r = rng_for("broken")
    good = sorted([c for c in calls if c.dest == "broken"], key=lambda c: c.ts)
    t0 = good[0].ts
    t1 = Ticket(r, 9001, t0 + dt.timedelta(minutes=11, seconds=17), issue="late_delivery", lang="en")
    lost1 = jdump(router_call(r, t1, t1.created + dt.timedelta(seconds=4)).line)
    c2 = Customer(r, "DE")
    c2.first, c2.last = "Jürgen", "Krüger"
    c2.name = "Jürgen Krüger"
    t2 = Ticket(r, 9002, t0 + dt.timedelta(minutes=26, seconds=40), customer=c2, issue="return_request", lang="de")
    lost2 = jdump(router_call(r, t2, t2.created + dt.timedelta(seconds=6)).line).encode("utf-8")
    latin1 = lost2.replace("ü".encode("utf-8"), b"\xfc")  # written by a client that encoded the line as Latin-1
    assert latin1 != lost2
    health = jdump({"event": "gateway.healthcheck", "ts": iso(t0.replace(second=0, microsecond=0) + dt.timedelta(minutes=40)),
                    "upstream": "api.openai.com",
                    "status": "ok", "p50_ms": 412, "p99_ms": 2210})
    return [("call", good[0]),
            ("truncated JSON line (the proxy crashed mid-write and restarted)", lost1[:int(len(lost1) * 0.55)].encode("utf-8")),
            ("invalid UTF-8 (a line written as Latin-1)", latin1),
            ("empty line", b""),
            ("JSON of unknown shape (a health-check record)", health.encode("utf-8")),
            ("call", good[1])]


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(data)
    return buf.getvalue()


def write(out, calls):
    for sub in ("gateway", "planner", "broken"):
        p = os.path.join(out, sub)
        if os.path.isdir(p):
            shutil.rmtree(p)
        os.makedirs(p)
    seq = {id(c): i for i, c in enumerate(calls)}
    for c in calls:
        c.text = jdump(c.line)
    r = rng_for("duplicates")
    # exact duplicates: a retrying logger wrote the same line again a little later
    dup_gw = r.sample([c for c in calls if c.dest == "gateway" and c.kind == "ok"], DUPLICATES["gateway"])
    dup_pl = r.sample([c for c in calls if c.dest == "planner" and c.kind == "ok"], DUPLICATES["planner"])
    dups = {id(c) for c in dup_gw + dup_pl}
    files = {}  # path -> list of (Call or None, text)
    for c in sorted(calls, key=lambda c: (c.ts, seq[id(c)])):
        if c.dest == "gateway":
            day = c.ts.date()
            name = f"gateway/{day.isoformat()}.jsonl" + (".gz" if (day - T0.date()).days < GZ_DAYS else "")
        elif c.dest == "planner":
            name = "planner/anthropic-2026-11.jsonl"
        else:
            continue
        files.setdefault(name, []).append([c, c.text, False])
    for name in sorted(files):
        rows = files[name]
        for i in range(len(rows) - 1, -1, -1):
            c = rows[i][0]
            if id(c) in dups and not rows[i][2]:
                j = min(len(rows), i + 1 + r.randint(0, 12))
                rows.insert(j, [c, c.text, True])
    written = {}
    for name in sorted(files):
        data = "".join(row[1] + "\n" for row in files[name]).encode("utf-8")
        with open(os.path.join(out, name), "wb") as f:
            f.write(gz(data) if name.endswith(".gz") else data)
        written[name] = files[name]
    broken = broken_lines(calls)
    name = "broken/edge-proxy-2026-11-29.jsonl"
    with open(os.path.join(out, name), "wb") as f:
        for what, v in broken:
            f.write((v.text.encode("utf-8") if what == "call" else v) + b"\n")
    written[name] = [[v, v.text, False] if what == "call" else [None, what, False] for what, v in broken]
    return written


# ---------------------------------------------------------------------------------------------
# counts and checks
# ---------------------------------------------------------------------------------------------

PII_LABELS = [("email", "email addresses"), ("phone", "phone numbers"), ("card", "payment card numbers (Luhn-valid)"),
              ("iban", "IBANs (valid mod-97 check digits)"), ("openai_api_key", "OpenAI keys sk-proj-..."),
              ("aws_access_key_id", "AWS access key ids AKIA..."), ("aws_secret_access_key", "AWS secret access keys"),
              ("github_token", "GitHub tokens ghp_..."), ("ipv4", "IPv4 addresses"), ("ipv6", "IPv6 addresses")]


def report(out, written, tickets):
    import re
    kind_of, sub_of = {}, {}
    for (kind, v), (_, sub) in zip(PIIS.values, PIIS.subs):
        kind_of.setdefault(v, kind)
        sub_of.setdefault(v, sub)
    occ, distinct, task_kind, errs = Counter(), {}, Counter(), Counter()
    lines_total = bad = 0
    for name in sorted(written):
        for c, text, is_dup in written[name]:
            lines_total += 1
            if c is None:
                bad += 1
                continue
            json.loads(text)
            task_kind[(c.task, "duplicate" if is_dup else c.kind)] += 1
            if c.kind == "error" and not is_dup:
                errs[(c.dest, c.line["status"])] += 1
            for v in c.pii:
                n = text.count(v)
                if n:
                    occ[kind_of[v]] += n
                    distinct.setdefault(kind_of[v], set()).add(v)
    # independent checks: every e-mail address, key and token in the logs was planted and is counted
    alltext = "\n".join(text for name in sorted(written) for c, text, _ in written[name] if c is not None)
    emails = re.findall(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}", alltext)
    assert all(m in kind_of for m in emails) and len(emails) == occ["email"], (len(emails), occ["email"])
    for m in re.findall(r"AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|sk-proj-[A-Za-z0-9_-]{80,}", alltext):
        assert m in kind_of, m
    for v, k in kind_of.items():
        assert k != "card" or luhn_valid(v.replace(" ", "").replace("-", "")), v
        assert k != "iban" or iban_valid(v), v

    print("Files:")
    for name in sorted(written):
        size = os.path.getsize(os.path.join(out, name))
        print(f"  logs/{name}: {len(written[name])} lines, {size} bytes")
    print(f"  total: {lines_total} lines")
    print()
    print("| task | agent | complete calls | truncated | failed (HTTP error) | duplicate lines |")
    print("|---|---|---|---|---|---|")
    tot = Counter()
    for task, agent in TASKS:
        row = [task_kind[(task, k)] for k in ("ok", "truncated", "error", "duplicate")]
        tot.update(dict(zip("abcd", row)))
        print(f"| {task} | {agent} | " + " | ".join(map(str, row)) + " |")
    print(f"| all | | {tot['a']} | {tot['b']} | {tot['c']} | {tot['d']} |")
    print()
    hci = {"support-chat (agent rule)": task_kind[("support-chat", "hci")],
           "order-status (metadata human_facing: true)": task_kind[("order-status", "hci")],
           "replier (metadata human_facing: true)": task_kind[("reply", "hci")]}
    print("Human-facing calls:", hci, "total", sum(hci.values()))
    print("Failed calls:", {f"{d} HTTP {st}": n for (d, st), n in sorted(errs.items())}, "total", sum(errs.values()))
    n_hci = sum(hci.values())
    n_dup = tot["d"]
    print(f"Bad lines in logs/broken/: {bad} (one of them empty)")
    print(f"Expected collect accounting (empty lines skipped): in {lines_total - 1} = out {lines_total - n_dup - n_hci - bad} "
          f"+ dropped duplicate {n_dup} + dropped hci {n_hci} + quarantined {bad - 1}")
    print()
    print("| personal data / secret | distinct values | occurrences in logs/ |")
    print("|---|---|---|")
    for k, label in PII_LABELS:
        print(f"| {label} | {len(distinct.get(k, ()))} | {occ[k]} |")
    print()
    styles = {"phone": Counter(), "card": Counter(), "iban": Counter()}
    for k in styles:
        for v in sorted(distinct.get(k, ())):
            styles[k][sub_of[v].split(" ")[-1] if k == "phone" else sub_of[v]] += 1
    print("phone numbers by style:", dict(sorted(styles["phone"].items())))
    print("phone numbers by country:", dict(sorted(Counter(sub_of[v].split(" ")[0] for v in distinct.get("phone", ())).items())))
    print("cards by origin:", dict(sorted(styles["card"].items())))
    print("IBANs by country:", dict(sorted(styles["iban"].items())))
    print()
    print("routed tickets by language:", dict(Counter(t.lang for t in tickets).most_common()))
    print("routed tickets by queue:", dict(Counter(t.queue for t in tickets).most_common()))
    print("routed tickets by priority:", dict(Counter(t.priority for t in tickets).most_common()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "logs"), help="output directory (default: %(default)s)")
    args = ap.parse_args()
    calls, tickets = build()
    written = write(args.out, calls)
    report(args.out, written, tickets)


if __name__ == "__main__":
    main()
