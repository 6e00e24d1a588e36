"""Generate a labelled, synthetic archive of GOV.UK-style releases for benchmarks.

The archive looks like the scraped dumps dedupe-releases is built for: ``dump/NNNNN.txt``
files of 10-70 articles, each opening with a ``<Type>: <Title>`` header line, then
press-release prose (lead, quotes, money, dates, bullet lists) in paragraphs separated by
blank lines: 160-940 words, median 410. About ``--dup-rate`` of the articles are planted
copies or relatives of an earlier original, and ``truth.json`` records them (format:
``accuracy/README.md``) so a scan can be scored with ``accuracy/score.py``:

* ``exact``: the same text again;
* ``near``: the same release with 1-3 kinds of scraping damage (quote style, title broken or
  wrapped in link brackets, paragraph split mid-sentence, a few words substituted, a sentence
  dropped or added, site boilerplate appended, UTF-8/cp1252 mojibake);
* ``contains``: an update, i.e. the original plus one or two new paragraphs;
* ``related``: a trade-paper rewrite that re-uses 2-4 of the original's quote paragraphs;
* ``template_sibling``: the same text with a different amount, date, place or name: a
  different release that must never be clustered with the original;
* stubs: a title and one line, all with distinct titles.

Usage::

    python benchmarks/corpus.py --articles 100000 --seed 1 --out /tmp/corpus [--encodings]

Design choices:

* Streaming: files are written one at a time and only a bounded reservoir of originals
  (the 1,500 most recent plus a uniform sample of 500 older ones) is kept to plant copies
  from; beyond that, memory grows only with the labels. 100,000 articles (266 MB) take
  about 17 s and 47 MB of RAM on one core.
* Deterministic: one ``random.Random(seed)`` drives the text and nothing depends on set
  order or string hashes, so a seed gives the same bytes on every run (gzip members are
  written with ``mtime=0``). The optional encodings use a second generator: turning them on
  changes how some files are stored (and the names of gzip files), never the text.
* Distinct originals are distinct: sentences are drawn from templates whose fixed phrases
  have several wordings (``[a|b|c]``) and whose slots come from large pools, so two
  unrelated articles share almost no word 5-grams (measured on 100k: mean Jaccard 0.006,
  99th percentile 0.02).
* Labels are checked while generating, with word 5-grams of ``\\w+`` tokens, case-folded,
  after undoing mojibake: every near copy has Jaccard >= 0.8 to its original, updates
  (``contains``) between 0.5 and 0.8, rewrites (``related``) below 0.45. A copy that cannot
  meet its bound is redrawn; if that fails the run stops with an ``AssertionError``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

GENERATOR = "dedupe-releases benchmarks/corpus.py"
FORMAT_VERSION = 1

#: Article types, as GOV.UK labels them, and how often each is drawn.
TYPES: tuple[str, ...] = (
    "Press release",
    "News story",
    "Speech",
    "Statement",
    "Guidance",
    "Policy paper",
    "Notice",
    "Correspondence",
)
TYPE_WEIGHTS: tuple[int, ...] = (36, 30, 6, 8, 6, 5, 5, 4)

#: A header line, plain or wrapped in link brackets. Used to check that no body line could be
#: mistaken for the start of another article, which would shift every later ordinal.
HEADER_RE = re.compile(r"^\[?(?:" + "|".join(TYPES) + r"): ", re.MULTILINE)

#: Kinds of planted copies and their shares among copies.
COPY_KINDS: tuple[str, ...] = ("near", "exact", "contains", "related", "template_sibling")
COPY_WEIGHTS: tuple[float, ...] = (0.45, 0.15, 0.12, 0.12, 0.16)

#: Share of fresh (non-copy) articles that are one-line stubs.
STUB_RATE = 0.05
#: Reservoir sizes: copies mostly come from recent originals (same or nearby files) and
#: sometimes from a uniform sample of all older ones (long-range republication).
RECENT_SIZE = 1500
OLD_SIZE = 500
OLD_SHARE = 0.25

NEAR_MIN_JACCARD = 0.8
CONTAINS_RANGE = (0.5, 0.8)
RELATED_MAX_JACCARD = 0.5

# --------------------------------------------------------------------------------------------
# Vocabulary. Curly apostrophes are used throughout; straight-quoted articles are derived.
# --------------------------------------------------------------------------------------------
# Word lists and templates are data, kept compact by hand (ruff format skips them).
# fmt: off

#: (name with article, Secretary of State title, minister portfolios, topics, press office number)
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        "the Department for Education",
        "Education Secretary",
        ("School Standards", "Children and Families", "Apprenticeships and Skills",
         "Higher and Further Education"),
        ("children’s services", "school buildings", "teacher recruitment", "early years childcare",
         "special educational needs provision", "apprenticeship places", "adult skills training",
         "university access", "free school meals", "mental health support in schools",
         "school sport", "maths teaching", "foster care", "careers advice"),
        "020 7783 8300",
    ),
    (
        "the Department of Health and Social Care",
        "Health and Social Care Secretary",
        ("Care", "Public Health", "Mental Health", "Health", "Patient Safety"),
        ("hospital waiting times", "adult social care", "mental health services", "GP access",
         "cancer diagnosis", "dementia care", "vaccination uptake", "ambulance response times",
         "community pharmacies", "NHS dentistry", "maternity services", "hospice care",
         "stroke rehabilitation", "eating disorder services"),
        "020 7210 5221",
    ),
    (
        "the Home Office",
        "Home Secretary",
        ("Policing and the Fire Service", "Security", "Crime, Safeguarding and Vulnerability",
         "Immigration"),
        ("neighbourhood policing", "knife crime prevention", "border security", "fire safety",
         "domestic abuse support", "modern slavery investigations", "police recruitment",
         "counter-terrorism policing", "passport processing", "anti-social behaviour",
         "victims’ services", "drug treatment referrals"),
        "020 7035 3535",
    ),
    (
        "the Department for Transport",
        "Transport Secretary",
        ("Roads", "Rail", "Aviation and Maritime", "Buses and Local Transport"),
        ("rural bus routes", "rail electrification", "road maintenance", "pothole repairs",
         "cycling and walking routes", "electric vehicle charging points",
         "level crossing safety", "port infrastructure", "station accessibility",
         "motorway junction upgrades", "community transport", "rail freight capacity"),
        "0300 7777 878",
    ),
    (
        "the Ministry of Housing, Communities and Local Government",
        "Communities Secretary",
        ("Housing", "Local Government", "Faith and Communities", "Building Safety"),
        ("affordable housing", "rough sleeping", "town centre regeneration", "planning reform",
         "cladding remediation", "homelessness prevention", "council tax support",
         "brownfield development", "community cohesion", "high street renewal",
         "leasehold reform", "social housing repairs"),
        "0303 444 1201",
    ),
    (
        "the Department for Environment, Food and Rural Affairs",
        "Environment Secretary",
        ("Farming, Fisheries and Food", "Flooding", "the Natural Environment", "Rural Affairs"),
        ("flood defences", "river water quality", "tree planting", "farm productivity",
         "air quality", "plastic waste reduction", "animal welfare standards",
         "peatland restoration", "coastal erosion", "bovine TB control", "fishing quotas",
         "hedgerow protection"),
        "0208 225 7317",
    ),
    (
        "the Department for Business, Energy and Industrial Strategy",
        "Business Secretary",
        ("Energy and Clean Growth", "Small Business", "Science, Research and Innovation",
         "Industry"),
        ("offshore wind", "home insulation", "battery manufacturing", "small business lending",
         "nuclear research", "energy bills", "carbon capture", "steel industry support",
         "research and development", "hydrogen production", "late payment reform",
         "space technology"),
        "020 7215 1000",
    ),
    (
        "the Department for Digital, Culture, Media and Sport",
        "Culture Secretary",
        ("Digital Infrastructure", "Sport and Tourism", "Arts, Heritage and Tourism",
         "Media and Data"),
        ("rural broadband", "5G coverage", "grassroots sport", "museum access",
         "heritage buildings", "local libraries", "online safety", "tourism recovery",
         "music education", "community radio", "public parks", "swimming pools"),
        "020 7211 2210",
    ),
    (
        "HM Treasury",
        "Chancellor",
        ("the Exchequer", "Financial Services", "the Treasury"),
        ("infrastructure investment", "business rates relief", "pension saving", "fuel duty",
         "productivity growth", "regional investment", "tax simplification", "savings incentives",
         "fraud in public spending", "access to cash"),
        "020 7270 5238",
    ),
    (
        "the Department for Work and Pensions",
        "Work and Pensions Secretary",
        ("Employment", "Disabled People, Health and Work", "Pensions and Financial Inclusion",
         "Welfare Delivery"),
        ("youth employment", "disability employment support", "pension auto-enrolment",
         "Universal Credit payments", "jobcentre services", "child maintenance",
         "work placements", "older workers", "in-work progression", "debt advice"),
        "0203 267 5144",
    ),
    (
        "the Ministry of Justice",
        "Justice Secretary",
        ("Prisons and Probation", "Courts and Legal Services", "Victims and Sentencing"),
        ("prison safety", "probation services", "court modernisation", "victim support services",
         "youth justice", "legal aid", "reoffending rates", "family courts",
         "prison education", "electronic monitoring"),
        "020 3334 3536",
    ),
    (
        "the Ministry of Defence",
        "Defence Secretary",
        ("the Armed Forces", "Defence Procurement", "Defence People and Veterans"),
        ("armed forces housing", "veterans’ mental health", "defence procurement",
         "reservist recruitment", "naval shipbuilding", "cyber defence",
         "military training estates", "service families’ childcare"),
        "020 7218 7907",
    ),
    (
        "the Foreign and Commonwealth Office",
        "Foreign Secretary",
        ("Europe and the Americas", "Africa", "Asia and the Pacific", "the Middle East"),
        ("humanitarian aid", "girls’ education overseas", "trade links", "climate finance",
         "consular services", "human rights monitoring", "disaster relief",
         "election observation", "mine clearance"),
        "020 7008 3100",
    ),
    (
        "the Department for International Trade",
        "International Trade Secretary",
        ("Trade Policy", "Exports", "Investment"),
        ("export finance", "food and drink exports", "inward investment", "trade missions",
         "trade agreements", "creative industries exports", "export skills"),
        "020 7215 2000",
    ),
    (
        "the Cabinet Office",
        "Chancellor of the Duchy of Lancaster",
        ("the Constitution", "Civil Society", "Implementation"),
        ("electoral registration", "volunteering", "public sector procurement",
         "civil service apprenticeships", "government digital services", "social enterprise",
         "resilience planning"),
        "020 7276 0700",
    ),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES: tuple[str, ...] = _words(
    """Jane John Sarah David Emma James Helen Robert Claire Michael Rachel Andrew Laura Paul
    Susan Mark Karen Richard Fiona Simon Louise Stephen Joanna Peter Alison Chris Nicola Daniel
    Victoria Matthew Kate Thomas Hannah Neil Anne Gareth Priya Rishi Amir Nadia Sajid Kwasi
    Esther Nadhim Chloe Caroline Oliver Penny Graham Harriet Ben Jo Steve Margot Liam Gillian
    Tariq Shabana Zac Amanda Dominic Lucy Alun Carwyn Alex Mims Iain Theresa Geoffrey Kemi Will
    Gavin Sajida Bim Jesse Rehman Marcus Elaine Fatima Owen Rhian Fergus Morag Brendan Siobhan
    Hamish Ailsa Callum Imogen Jasper Rosalind Felix Maya Ruth Vikram Anika Dev Grace Patrick
    Eleanor Duncan Maureen Trevor Bethan Huw Ewan Kirsty Mohammed Aisha Yusuf Leila Conor
    Niamh Declan Orla"""
)
SURNAMES: tuple[str, ...] = _words(
    """Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans
    Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips Mason
    Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Martin Price Harris Hughes Shaw
    Lloyd Ellis Gill Parker Cooper Ward Turner Morris Kelly Bell Murphy Bailey Chapman Hunt
    Watts Hunter Whitehead Ahmed Begum Hussain Barker Lucas Webb
    Singh Kaur Shah Okafor Mensah Nowak Kowalski Fraser Campbell Stewart Macdonald Reid Murray
    Ross Paterson Graham Henderson Douglas Hamilton Ferguson Kerr Gallagher Doherty Quinn
    McLaughlin Byrne Flanagan Pritchard Vaughan Powell Rees Griffiths Jenkins Howells Bowen
    Llewellyn Ashworth Barraclough Cartwright Dobson Entwistle Fairbairn Greenwood Hargreaves
    Illingworth Kershaw Lockwood Moorhouse Nuttall Oldroyd Pickering Ramsden Sutcliffe Thackray
    Uttley Wainwright Atkinson Blackburn Crowther Dyson Fenwick Holroyd Brennan Hollis Coates
    Maddox Radcliffe Sheldon Stanton Whitfield Yardley Beaumont Carver Dalton Everett Fielding
    Gresham Hartley Ingram Lambert Marsh Norris Osborne Pemberton Rowley Seymour Tennant"""
)

PLACES: tuple[str, ...] = (
    "Leeds", "Bradford", "Sheffield", "Manchester", "Liverpool", "Birmingham", "Coventry",
    "Leicester", "Nottingham", "Derby", "Stoke-on-Trent", "Wolverhampton", "Sunderland",
    "Newcastle", "Gateshead", "Middlesbrough", "Hartlepool", "Darlington", "Durham", "Carlisle",
    "Lancaster", "Preston", "Blackpool", "Blackburn", "Burnley", "Bolton", "Wigan", "Oldham",
    "Rochdale", "Stockport", "Warrington", "Chester", "Crewe", "Shrewsbury", "Telford",
    "Hereford", "Worcester", "Gloucester", "Cheltenham", "Swindon", "Bristol", "Exeter",
    "Plymouth", "Torquay", "Truro", "Taunton", "Yeovil", "Salisbury", "Bournemouth", "Poole",
    "Southampton", "Portsmouth", "Winchester", "Slough", "Oxford", "Banbury", "Milton Keynes",
    "Northampton", "Kettering", "Bedford", "Luton", "Watford", "St Albans", "Stevenage",
    "Cambridge", "Peterborough", "Norwich", "Ipswich", "Colchester", "Chelmsford",
    "Southend-on-Sea", "Basildon", "Harlow", "Canterbury", "Dover", "Folkestone", "Margate",
    "Maidstone", "Brighton", "Hastings", "Eastbourne", "Crawley", "Guildford", "Woking",
    "Lincoln", "Grimsby", "Scunthorpe", "Hull", "Harrogate", "Scarborough", "Doncaster",
    "Rotherham", "Barnsley", "Wakefield", "Huddersfield", "Halifax", "Chesterfield", "Mansfield",
    "Great Yarmouth", "Lowestoft", "Barrow-in-Furness", "Kendal", "Whitehaven", "Workington",
    "Berwick-upon-Tweed", "Hexham", "Cardiff", "Swansea", "Newport", "Wrexham", "Bangor",
    "Aberystwyth", "Merthyr Tydfil", "Edinburgh", "Glasgow", "Aberdeen", "Dundee", "Inverness",
    "Stirling", "Belfast", "Newry", "Lisburn", "Cornwall", "Cumbria", "Devon", "Somerset",
    "Norfolk", "Suffolk", "Kent", "Essex", "Lancashire", "Northumberland", "Shropshire",
    "Herefordshire", "Lincolnshire", "Wiltshire", "Dorset", "Cheshire", "Tower Hamlets",
    "Croydon", "Lewisham", "Hackney", "Barnet", "Ealing", "Hounslow", "Southwark", "Camden",
    "Islington", "Newham", "Haringey", "Knaresborough", "Skipton", "Whitby", "Penrith",
    "Bridgwater", "Barnstaple", "Falmouth", "Stroud", "Tewkesbury", "Ludlow", "Oswestry",
    "Bury St Edmunds", "Thetford", "Grantham", "Spalding", "Loughborough", "Hinckley",
    "Nuneaton", "Redditch", "Kidderminster", "Stafford", "Tamworth", "Macclesfield",
)
REGIONS: tuple[str, ...] = (
    "the North East", "the North West", "Yorkshire and the Humber", "the East Midlands",
    "the West Midlands", "the East of England", "London", "the South East", "the South West",
    "Scotland", "Wales", "Northern Ireland", "the Northern Powerhouse", "the Midlands Engine",
)
#: (title, surname, country) for "Prime Minister’s meeting with ..." titles.
LEADERS: tuple[tuple[str, str, str], ...] = (
    ("Chancellor", "Kurz", "Austria"), ("President", "Macron", "France"),
    ("Chancellor", "Merkel", "Germany"), ("Prime Minister", "Trudeau", "Canada"),
    ("Prime Minister", "Modi", "India"), ("President", "Moon", "the Republic of Korea"),
    ("Prime Minister", "Abe", "Japan"), ("Prime Minister", "Rutte", "the Netherlands"),
    ("Prime Minister", "Morrison", "Australia"), ("Prime Minister", "Ardern", "New Zealand"),
    ("President", "Ramaphosa", "South Africa"), ("President", "Kenyatta", "Kenya"),
    ("Taoiseach", "Varadkar", "Ireland"), ("Prime Minister", "Solberg", "Norway"),
    ("President", "Buhari", "Nigeria"), ("President", "Akufo-Addo", "Ghana"),
    ("Prime Minister", "Michel", "Belgium"), ("Prime Minister", "Conte", "Italy"),
    ("President", "Duda", "Poland"), ("Prime Minister", "Rasmussen", "Denmark"),
    ("President", "Widodo", "Indonesia"), ("Prime Minister", "Lee", "Singapore"),
    ("President", "Iohannis", "Romania"), ("Prime Minister", "Netanyahu", "Israel"),
    ("President", "Zelensky", "Ukraine"), ("Prime Minister", "Bettel", "Luxembourg"),
    ("Prime Minister", "Muscat", "Malta"), ("Prime Minister", "Costa", "Portugal"),
    ("Prime Minister", "Mitsotakis", "Greece"), ("President", "Anastasiades", "Cyprus"),
    ("Prime Minister", "Ratas", "Estonia"), ("Prime Minister", "Karins", "Latvia"),
    ("Prime Minister", "Khan", "Pakistan"), ("Prime Minister", "Hasina", "Bangladesh"),
    ("President", "Mirziyoyev", "Uzbekistan"), ("President", "Tokayev", "Kazakhstan"),
    ("President", "Kagame", "Rwanda"), ("Prime Minister", "Holness", "Jamaica"),
)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

ACTS: tuple[str, ...] = (
    "improve", "expand", "modernise", "protect", "transform", "strengthen", "speed up",
    "support", "upgrade", "deliver", "boost", "tackle", "reform", "widen access to",
    "invest in", "raise standards in", "cut delays in", "join up", "safeguard", "rebuild",
    "simplify", "accelerate", "overhaul", "extend", "fund", "pilot new approaches to",
    "bring forward", "scale up", "improve access to", "make better use of",
)
ACTINGS: tuple[str, ...] = (
    "improving", "expanding", "modernising", "protecting", "transforming", "strengthening",
    "speeding up", "supporting", "upgrading", "delivering", "boosting", "tackling", "reforming",
    "investing in", "raising standards in", "joining up", "rebuilding", "simplifying",
)
BENEFICIARIES: tuple[str, ...] = (
    "families", "young people", "small businesses", "rural communities", "patients",
    "commuters", "first-time buyers", "veterans", "pupils", "carers", "farmers", "older people",
    "local residents", "apprentices", "victims of crime", "disabled people", "students",
    "jobseekers", "tenants", "leaseholders", "landlords", "parents", "teachers", "nurses",
    "care workers", "police officers", "firefighters", "exporters", "manufacturers",
    "start-ups", "charities", "volunteers", "community groups", "local authorities",
    "schools", "hospitals", "councils", "employers", "motorists", "cyclists", "bus passengers",
    "rail passengers", "fishing communities", "coastal towns", "service families",
    "care leavers", "young offenders", "social workers", "GPs", "pharmacists", "researchers",
)
PERSONS: tuple[str, ...] = (
    "child", "family", "patient", "pupil", "passenger", "resident", "community", "household",
    "business", "worker", "young person", "taxpayer", "citizen", "parent",
)
NOUN_PL: tuple[str, ...] = (
    "homes", "schools", "jobs", "apprenticeships", "hospital beds", "nursery places",
    "charging points", "miles of cycle lanes", "training places", "new buses", "businesses",
    "households", "police officers", "classrooms", "community centres", "care homes",
    "projects", "sites", "GP surgeries", "youth clubs", "libraries", "bridges", "sports pitches",
    "flood barriers", "hectares of woodland", "properties", "foster carers", "mentors",
)
PROG_ADJ: tuple[str, ...] = (
    "Local", "Future", "Stronger", "Green", "Northern", "Coastal", "Rural", "Community",
    "Digital", "Healthy", "Safer", "Better", "Regional", "National", "Town", "Active", "Clean",
    "Smart", "Skills", "Youth", "Early", "Resilient", "Connected", "Thriving",
)
PROG_NOUN: tuple[str, ...] = (
    "Growth", "Towns", "Streets", "Communities", "Places", "Futures", "Skills", "Homes",
    "Transport", "Energy", "Recovery", "Innovation", "Partnerships", "Pathways", "Neighbourhoods",
    "Horizons", "Start", "Roads", "Waters", "Families", "Schools", "Care", "Workforce",
)
PROG_KIND: tuple[str, ...] = (
    "Fund", "Programme", "Scheme", "Initiative", "Partnership", "Challenge", "Deal",
    "Accelerator", "Pathfinder", "Network", "Investment Plan", "Pilot",
)
ORG_SUFFIX: tuple[str, ...] = (
    "City Council", "Borough Council", "District Council", "County Council",
    "Chamber of Commerce", "Community Trust", "College", "University",
    "Teaching Hospitals NHS Foundation Trust", "Police", "Fire and Rescue Service",
    "Business Improvement District", "Citizens Advice", "Housing Association",
    "Clinical Commissioning Group", "Local Enterprise Partnership", "Wildlife Trust",
    "Youth Partnership", "Food Bank", "Sports Trust", "Chamber of Trade", "Port Authority",
)
NATIONAL_ORGS: tuple[str, ...] = (
    "the Environment Agency", "Ofsted", "Highways England", "Natural England",
    "the Local Government Association", "NHS England", "Public Health England", "Network Rail",
    "the Care Quality Commission", "the National Police Chiefs’ Council", "Homes England",
    "the Arts Council", "Sport England", "Historic England", "the British Council",
    "UK Research and Innovation", "the Forestry Commission", "the Met Office",
    "the Health and Safety Executive", "the Charity Commission", "the Land Registry",
    "the Office for National Statistics", "the Crown Prosecution Service",
    "the Youth Justice Board", "the Marine Management Organisation", "the Coal Authority",
    "the Pensions Regulator", "the Food Standards Agency", "the Canal and River Trust",
    "the National Trust", "the Federation of Small Businesses",
    "the Confederation of British Industry",
    "the Trades Union Congress", "the Royal College of Nursing", "the Rural Payments Agency",
    "the Driver and Vehicle Standards Agency", "the Maritime and Coastguard Agency",
    "Citizens Advice", "the Money and Pensions Service", "the UK Space Agency",
)
ORG_ROLES: tuple[str, ...] = (
    "Chief Executive", "Leader", "Chair", "Director", "Head of Policy", "Principal",
    "Chief Constable", "Managing Director", "Chief Officer", "Director of Public Health",
    "Cabinet Member for Communities", "Chief Fire Officer", "Vice-Chancellor", "Programme Lead",
    "Head of Operations", "Director of Children’s Services", "Chief Nurse", "Founder",
)
REPORTS: tuple[str, ...] = (
    "a report", "an independent review", "a consultation", "an action plan", "a strategy",
    "a new framework", "updated guidance", "a white paper", "a roadmap", "a progress report",
    "an evaluation", "a call for evidence", "a delivery plan", "new standards",
    "a national plan", "an implementation plan",
)
REPORT_TITLES: tuple[str, ...] = (
    "action plan", "annual report", "progress update", "delivery plan", "guidance for councils",
    "evaluation report", "call for evidence", "consultation response", "framework",
    "statistical release", "impact assessment", "operational guidance", "code of practice",
)
EVENTS: tuple[str, ...] = (
    "Local Government Association annual conference",
    "National Children and Adults Services conference",
    "Confederation of British Industry dinner", "Association of Directors of Public Health summit",
    "Royal Agricultural Show", "National Housing Federation conference",
    "Police Federation conference",
    "Festival of Innovation", "Global Investment Summit", "Cities Summit", "Northern Skills Forum",
    "Rural Economy Conference", "Apprenticeship Awards", "Energy Transition Forum",
    "Future of Transport conference", "Mental Health Leaders’ Summit", "Tourism Industry Awards",
)
OFFENCES: tuple[str, ...] = (
    "polluting a river", "breaching safety rules", "illegal waste dumping",
    "failing to protect workers", "misleading customers", "breaching licence conditions",
    "unsafe food handling", "illegal fishing", "failing to report emissions",
    "breaching planning controls",
)
TIMES: tuple[str, ...] = (
    "over the next five years", "by the end of the year", "from April", "this winter",
    "before the end of the decade", "over the next parliament", "within 18 months",
    "later this year", "from next spring", "over the coming months", "by next summer",
    "in the next financial year", "over the next three years", "from September",
    "by the end of the spending review period", "in time for next winter",
    "over the next decade", "from early next year", "during the autumn",
    "as soon as possible", "over the summer", "within two years",
)
CONNECTORS: tuple[str, ...] = (
    "In addition,", "Separately,", "Meanwhile,", "As part of the plans,", "Alongside this,",
    "Under the proposals,", "Following the announcement,", "At the same time,",
    "In the longer term,", "Elsewhere,", "To support this,", "Building on this,",
    "Over the same period,", "Crucially,", "Later this year,", "Subject to approval,",
)
PERIODS: tuple[str, ...] = (
    "six months", "quarter", "year", "three months", "two years", "month", "school term",
)
STAT_OBJECTS: tuple[str, ...] = (
    "reported a significant improvement", "said services had got better",
    "were satisfied with the support they received", "had used the service at least once",
    "said they felt safer", "were in work six months later", "reported lower costs",
    "completed their training", "had been waiting more than a year",
    "were unaware of the help available", "rated the scheme as good or outstanding",
)
ADJ_PROGRESS: tuple[str, ...] = (
    "making real progress", "delivering", "getting on with the job", "keeping our promise",
    "moving faster than ever", "backing our words with action", "investing for the long term",
)
SUPPORT_VERBS: tuple[str, ...] = (
    "get the help they need", "stay safe", "find good jobs", "live independently",
    "reach their potential", "access services closer to home", "plan for the future",
    "recover more quickly", "stay in their communities", "get on in life",
)
HEADLINE_ACTORS: tuple[str, ...] = (
    "Minister", "Government", "Secretary of State", "Prime Minister", "Chancellor",
)
# Templates below use ``[a|b|c]`` for inline alternatives (compiled into slots by
# ``_compile``): every fixed phrase has several wordings, so two unrelated articles that
# happen to use the same template still rarely share a word 5-gram.
SUBJECTS: tuple[str, ...] = (
    "the funding", "the new scheme", "the investment", "the programme", "the package",
    "the partnership", "the plan", "the money", "the pilot", "this support",
    "the first wave of projects", "the extra capacity", "the new service", "the review",
    "the new team", "the {programme}", "{org}", "each successful project",
    "the [second|third|final|next] phase", "the [national|regional|local|wider] rollout",
    "the [new|expanded|enlarged] [fund|grant scheme|support package|service]",
    "a dedicated [team|unit|taskforce|board] at {org_n}",
)
VPS: tuple[str, ...] = (
    "[will|is set to|is designed to|aims to] {act} {any_topic} for {benefs}",
    "[is expected to|should|could|is likely to] {act} {any_topic} in {any_place}",
    "has already helped {count} {benefs} to {support_verb}",
    "will be [overseen|monitored|evaluated|run] by {org_n}",
    "builds on [work|efforts|earlier work|a pilot] by {org_n} to {act} {any_topic}",
    "will run alongside [existing|current|wider|local] efforts to {act} {any_topic}",
    "will be targeted at {benefs} in the [areas|places|communities|parts of {region}] "
    "[of greatest need|most affected|that need it most|hardest hit]",
    "could {act} {any_topic} for [up to|around|more than|nearly] {count} {benefs}",
    "will help {benefs} and {benefs} to {support_verb}",
    "[is backed by|has the support of|was welcomed by|was developed with] {org_n} and {org_n}",
    "will be [assessed|reviewed|evaluated|inspected] by {org_n} {time}",
    "follows a [successful|year-long|two-year|small-scale] [trial|pilot|test] in {any_place}",
    "will create [around|up to|more than|nearly] {count} {noun_pl}",
    "is worth {money} to {benefs} in {region}",
    "[will|should|is expected to] [reach|support|benefit] {count} {benefs} [in|across] {region}",
    "[was|has been] [developed|designed|drawn up|shaped] [with|alongside|in partnership with] "
    "{benefs} [in|from] {any_place}",
)
TAILS: tuple[str, ...] = (
    "", "", "", " [across|throughout|in] {region}", " in {any_place} and {any_place}", " {time}",
    " by {year_f}", ", [ministers|officials|the department] [said|confirmed|added]",
    ", according to {org_n}", " in the first [instance|year|phase]",
    " where it is [needed|wanted|lacking] most", ", subject to [a final business case|approval]",
)

#: Sentence templates for ordinary paragraphs (third person, reporting register).
BODY: tuple[str, ...] = (
    "{Conn} {count} {noun_pl} [across|in|throughout] {region} [will benefit from|are set to gain "
    "from|will be supported by|are covered by] the {programme} {time}.",
    "The {programme} will {act} {topic} for {benefs} in {place} [and the surrounding area|and "
    "neighbouring areas|and beyond|first|as a priority].",
    "[Figures|Statistics|Data|New figures] published in {month_r} [show|suggest|indicate] that "
    "{pct} of {benefs} in {region} [now have access to|are still waiting for|rely on|have "
    "benefited from] {any_topic}.",
    "The [announcement|funding|package|decision] [builds on|follows|adds to|comes on top of] "
    "{money} already [committed to|invested in|spent on|allocated to] {topic2} since {year_r}.",
    "{Org} will work [closely|together|in partnership] with {org_n} to {act} {topic} {time}.",
    "[Around|About|Up to|More than] {count} {benefs} are expected to [benefit|take part|apply], "
    "with applications [opening|due to open|closing] {time}.",
    "{Conn} [the government|ministers|{dept}] will [publish|bring forward|set out] {report} on "
    "{any_topic} {time}.",
    "[Partners|Councils|Local leaders|Officials] in {place} have identified {count} "
    "[sites|locations|projects|schemes] where work to {act} {topic2} could [begin|start|get under "
    "way] {time}.",
    "[Independent analysis|An evaluation by {org_n}|Modelling by {org_n}|Early evidence] "
    "[suggests|indicates|shows] the {programme} could save {money} a year by {year_f}.",
    "The [money|funding|investment|grant] forms part of a [wider|larger|broader] {money} "
    "[package|programme|settlement] to {act} {topic2} in {region}.",
    "Since {year_r}, the number of {benefs} [supported through|helped by|reached by|using] "
    "{any_topic} [schemes|services|programmes|projects] has [risen|increased|grown|fallen] by "
    "{pct}.",
    "{Dept} is also [consulting on|seeking views on|inviting comments on] "
    "[plans|proposals|options] to {act} {any_topic}, with the consultation [closing on|ending "
    "on|running until] {date_r}.",
    "[Bids|Applications|Proposals] were [assessed|judged|scored] on [value for money|cost|"
    "affordability], [deliverability|readiness|local support] and the [likely benefit to|expected "
    "impact on|difference they would make to] {benefs} in {any_place}.",
    "Successful [areas|bidders|councils|partnerships] will [set out|explain|publish details of] "
    "how they will {act} {topic} and [report on progress|account for spending|share results] every "
    "{period}.",
    "The [scheme|programme|approach|fund] was [designed|developed|drawn up] with {org_n} and "
    "[draws on|builds on|uses] evidence from {count} [pilot projects|trials|case studies|local "
    "schemes] in {region}.",
    "{Conn} [an extra|a further|an additional] {money} will be [made available|set aside|provided] "
    "to {act} {any_topic} in [rural|coastal|urban|deprived] parts of {region}.",
    "Work on the [first|second|next|final] phase in {place} is [due|expected|scheduled] to start "
    "{time}, with completion [expected|planned|due] in {year_f}.",
    "[Latest|Recent|Official|Published] statistics show {count} {benefs} in {any_place} waited "
    "longer than {weeks} weeks for {any_topic} [last year|in {year_r}|over the winter].",
    "That is [an increase|a rise|a fall|a drop] of {pct} [on the same period in|compared "
    "with|since] {year_r}, according to {org_n}.",
    "Ministers have asked {org_n} to [review|examine|look again at|report on] how {any_topic} is "
    "[delivered|funded|organised|managed] in {region} [and to report back|with findings "
    "due|and to make recommendations] {time}.",
    "[Councils|Local authorities|Combined authorities|Partnerships] in {region} will "
    "[receive|get|be allocated|share] an average of {money_small} each to {act} {topic2}.",
    "{Benefs} and {benefs} will be able to [apply|register|find out more] [online|by phone|in "
    "person] or through {org}.",
    "The {programme} is one of {count} [projects|schemes|bids|partnerships] [announced today|"
    "confirmed today|backed] under the {programme2}.",
    "{Conn} {dept} will [publish|issue|produce] [advice|guidance|a toolkit|information] for "
    "{benefs} on how to {act} {any_topic}.",
    "More than {count} [people|organisations|respondents] [responded to|took part in|contributed "
    "to] the consultation on {any_topic}, with {pct} [backing|supporting|opposing] the proposals.",
    "The [measures|changes|arrangements|plans] will be kept under review as [new|further|emerging] "
    "evidence on {any_topic} and {any_topic} [emerges|becomes available|is published].",
    "Officials will [visit|travel to|meet partners in] {any_place}, {any_place} and {any_place} "
    "{time} to [meet|hear from|listen to] {benefs} and [local leaders|councillors|businesses].",
    "The new approach replaces [a patchwork of|several separate|a confusing mix of|outdated] "
    "schemes that left many {benefs} in {region} without [access to|proper support for|help with] "
    "{any_topic}.",
    "Each [project|area|partnership|council] will receive between {money_small} and {money}, "
    "depending on [its size|local need|the scale of its plans] and the needs of {benefs}.",
    "The government remains [committed to|focused on|determined to keep] {acting} {topic} and will "
    "set out [further|more detailed|next] [plans|steps|proposals] {time}.",
    "{Conn} {org} has agreed to match the funding for {any_topic} [pound for pound|in full|up to "
    "{money_small}] {time}.",
    "A new [taskforce|board|working group|panel], [chaired|led] by {name} of {org_n}, will "
    "[oversee|coordinate|drive] the work on {topic2}.",
    "The {programme} was first [announced|launched|set up] in {month_r} and has so far "
    "[supported|helped|reached] {count} {benefs}.",
    "Evidence from {any_place} [shows|suggests] that {acting} {any_topic} early can [reduce|cut|"
    "lower] costs by [up to|as much as|around] {pct}.",
    "Applications from {benefs} in {any_place}, {any_place} and {any_place} will be "
    "[prioritised|fast-tracked|considered first].",
    "{Name}, who [leads|oversees|manages] the work on {topic2} at {org_n}, will report to "
    "ministers {time}.",
    "The [changes|new rules|measures|requirements] will come into force on {date_r} and apply to "
    "{benefs} [across|in|throughout] {region}.",
    "{Conn} {count} {benefs} took part in [workshops|focus groups|events|public meetings] in "
    "{any_place} and {any_place} to [shape|inform|test] the plans.",
    "[Some|Around|About] {pct} of the budget will go directly to {benefs}, with the rest [spent "
    "on|used for|going to] {any_topic}.",
    *(["{Subject} {vp}{tail}."] * 8),
    *(["{Conn} {subject} {vp}{tail}."] * 6),
)
#: First-person sentences for quotes.
QUOTE: tuple[str, ...] = (
    "This [investment|funding|money|support] [will make a real difference to|will transform life "
    "for|means a great deal to|will be welcomed by] {benefs} in {place}.",
    "We are [determined|committed|working hard] to {act} {topic} so that every {person} [gets the "
    "support they need|can rely on it|feels the benefit].",
    "I am [delighted|pleased|proud] that {place} will be among the first [areas|places|"
    "communities] to benefit from the {programme}.",
    "{Topic} matters to {benefs} [up and down the country|in every region|everywhere], and "
    "[today’s announcement|this package|this funding] shows we are {adj_progress}.",
    "Too many {benefs} have [waited too long for|struggled to get|been let down on] {any_topic}, "
    "and [that has to change|we are putting that right|that is not acceptable].",
    "I want to thank {benefs} and everyone at {org_n} for their [hard work|dedication|patience] "
    "over the last {n_word} years.",
    "By working with {org_n} we can {act} {topic2} and [build a stronger economy|create "
    "opportunity|deliver better services] for {region}.",
    "This is a [significant|major|welcome|real] step forward for {benefs}, but we know there is "
    "more to do on {any_topic}.",
    "I have seen for myself in {any_place} how {acting} {any_topic} can [change lives|make a "
    "difference|transform a community].",
    "We’re [backing|supporting|standing behind] {benefs} with the [resources|tools|funding] they "
    "need to {support_verb}.",
    "Our [plan|strategy|approach] will {act} {any_topic} and give {benefs} the confidence to "
    "{support_verb}.",
    "That is why we are [investing|putting] {amount} [in|into] {topic} and working with {org} to "
    "[get it right|deliver it|make it work].",
    "Nobody should have to choose between {any_topic} and {any_topic}, and this [funding|plan|"
    "package] will help {benefs} in {any_place} [avoid that choice|get both].",
    "We have listened to {benefs} and {benefs}, and this [package|plan|decision] [responds "
    "directly to|reflects|builds on] what they told us.",
    "It’s [vital|essential|right] that {benefs} in every part of {region} can rely on {any_topic}.",
    "The {programme} shows what can be achieved when [national and local government|the public "
    "and private sectors|government and communities] work together.",
    "I look forward to seeing the first projects in {any_place} [get under way|open their doors|"
    "deliver results] {time}.",
    "We will continue to {act} {any_topic} and I will be [watching closely|checking|making sure] "
    "that the money reaches {benefs}.",
    "Today’s figures show that our approach to {any_topic} is working, with {pct} more {benefs} "
    "[getting help|in work|better off].",
    "We know that {acting} {any_topic} is one of the [best|most effective|surest] ways to {act} "
    "{topic2}.",
    "This is about giving {benefs} in {any_place} the same [opportunities|chances|support] as "
    "anywhere else in the country.",
    "Our ambition is for {region} to [lead the way|set the standard|be a world leader] on "
    "{any_topic} by {year_f}.",
    "I’m proud of the progress we have made, and I know {benefs} will [feel the benefit|see the "
    "difference|notice the change] {time}.",
)
#: First-person sentences for a partner organisation’s quote.
PARTNER_QUOTE: tuple[str, ...] = (
    "We [welcome|are pleased by|strongly support] the government’s commitment to {topic} and the "
    "recognition of the role {benefs} play.",
    "{Org_short} has long called for [more support for|investment in|action on] {any_topic}, and "
    "this is a [welcome|much-needed|positive] step.",
    "The funding will [allow|enable|help] us to {act} {any_topic} for {benefs} across {place}.",
    "We are [pleased|proud|delighted] to be working with {dept} and {org_n} on this "
    "[important|ambitious|timely] programme.",
    "Our [staff|volunteers|teams|members] see every day how much {benefs} depend on {any_topic}.",
    "This is [good news|great news|a boost] for {benefs} in {place} and a vote of confidence in "
    "[local partners|the sector|our members].",
    "We look forward to working with [partners|the government|councils] to make sure the money "
    "reaches [those who need it most|the front line|{benefs}].",
    "Over the last {n_word} years we have helped {count} {benefs}, and this will let us [do much "
    "more|reach many more|go further].",
    "The real test will be whether {benefs} [notice a difference|feel the benefit|see "
    "improvements] {time}.",
    "We will use this [funding|money|support] to {act} {topic2} and to share what works with "
    "[councils|partners|others] across {region}.",
)
#: Lead sentences by title family.
LEADS: dict[str, tuple[str, ...]] = {
    "fund": (
        "{Dept} has today ({date}) [announced|confirmed|unveiled] {amount} to {act} {topic} in "
        "{place}.",
        "{Role} {minister} has today ({date}) [confirmed|announced|set out] {amount} for {topic} "
        "in {place}.",
        "{Benef} in {place} will benefit from {amount} to {act} {topic}, {role} {minister} "
        "[announced|confirmed|said] on {date}.",
        "A {amount} [package|programme|fund] to {act} {topic} in {place} and across {region} was "
        "[announced|launched|unveiled] today ({date}) by {dept}.",
        "{Place} is to receive {amount} to {act} {topic} as part of the {programme}, the "
        "government [announced|confirmed|said] on {date}.",
    ),
    "meet": (
        "The Prime Minister met {leader_title} {leader} of {country} in Downing Street today "
        "({date}).",
        "A Downing Street spokesperson said the Prime Minister [welcomed|hosted|spoke with] "
        "{leader_title} {leader} of {country} on {date}.",
    ),
    "report": (
        "{Dept} has today ({date}) published {report} setting out how it will {act} {topic}.",
        "New {report_title} on {topic}, published on {date}, sets out how [councils|partners|"
        "providers] in {place} and elsewhere should {act} it.",
    ),
    "speech": (
        "{Role} {minister} spoke on {date} about plans to {act} {topic}, including {amount} of new "
        "funding.",
        "Thank you for inviting me to speak today about {topic} and the {amount} we are investing "
        "in it.",
    ),
    "letter": (
        "The {secretary} wrote on {date} to {org} about {topic} and the {amount} made available "
        "for it.",
        "This letter, dated {date}, sets out the government’s position on {topic} in {place}.",
    ),
    "notice": (
        "{Org} has been ordered to pay {amount} after {org_n} found it responsible for {offence} "
        "on {date}.",
        "A notice issued on {date} requires {org} to {act} {topic} in {place} without delay.",
    ),
    "visit": (
        "{Role} {minister} visited {place} on {date} to see how {amount} of government funding is "
        "helping to {act} {topic}.",
        "During a visit to {place} on {date}, {role} {minister} met {benef} benefiting from "
        "{amount} invested in {topic}.",
    ),
}
#: (template, title family, facts named in the title) by article type.
TITLES: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "announce": (
        ("{Headline_actor} announces {amount} to {act} {topic} in {place}", "fund",
         ("amount", "place")),
        ("{amount} boost for {topic} in {place}", "fund", ("amount", "place")),
        ("{place} to benefit from {amount} {topic} investment", "fund", ("amount", "place")),
        ("New {programme} to {act} {topic} in {region}", "fund", ()),
        ("{count_t} {noun_pl} in {place} to share {amount} for {topic}", "fund",
         ("amount", "place")),
        ("Prime Minister’s meeting with {leader_title} {leader} of {country}: {date}", "meet",
         ("leader", "date")),
        ("{Topic} in {place}: {date}", "fund", ("place", "date")),
        ("{Role} visits {place} to see {topic} work", "visit", ("place",)),
        ("Government backs {topic} in {place} with {amount}", "fund", ("amount", "place")),
        ("{amount} to {act} {topic} across {region}", "fund", ("amount",)),
    ),
    "Speech": (
        ("{minister} speech at the {event}", "speech", ("minister",)),
        ("{Role}’s speech on {topic}", "speech", ()),
        ("{Topic}: speech by the {secretary} in {place}", "speech", ("place",)),
    ),
    "Guidance": (
        ("{Topic}: {report_title} {year_r}", "report", ()),
        ("{Topic} in {place}: {report_title}", "report", ("place",)),
    ),
    "Policy paper": (
        ("{Topic}: {report_title} {year_r} to {year_f}", "report", ()),
        ("{Topic} {report_title}: {date}", "report", ("date",)),
    ),
    "Notice": (
        ("{org} fined {amount} for {offence}", "notice", ("amount",)),
        ("Notice to {org} on {topic}: {date}", "notice", ("date",)),
    ),
    "Correspondence": (
        ("Letter from the {secretary} to {org} on {topic}", "letter", ()),
        ("{Topic} in {place}: letter of {date}", "letter", ("place", "date")),
    ),
}
#: Titles and leads for trade-paper rewrites ("related").
RELATED_TITLES: tuple[str, ...] = (
    "Councils awarded {amount} for {topic}",
    "{place} {topic} plan backed with {amount}",
    "Funding confirmed for {topic} in {place}",
    "{minister} pledges {amount} for {topic}",
    "Sector welcomes {amount} boost for {topic}",
    "What the {amount} {topic} package means for {place}",
)
RELATED_LEADS: tuple[str, ...] = (
    "A government initiative worth {amount} to {act} {topic} has been announced, with "
    "{place} among the first areas to benefit.",
    "{minister}, {role}, said {amount} had been set aside to {act} {topic}, with a focus on "
    "{benefs} in {place}.",
    "Ministers have confirmed {amount} for {topic}, in a move aimed at helping {benefs} across "
    "{region}.",
    "Councils and partners in {place} will share {amount} to {act} {topic}, the government has "
    "said.",
)
RELATED_BODY: tuple[str, ...] = (
    "{minister} said the [programme|money|plan] would give {benefs} the tools they need to "
    "{support_verb}.",
    "At the same time {dept} said it would work with {org_n} to {act} {any_topic}.",
    "The announcement follows [warnings|complaints|evidence] from {org_n} that {benefs} were "
    "struggling to access {any_topic}.",
    "Sector leaders said the money was welcome but warned that demand for {any_topic} was still "
    "[rising|growing|outstripping supply].",
    "It is understood that bids from {any_place} and {any_place} are likely to be among the first "
    "[approved|funded|signed off].",
    "{Org} said it was still [studying|looking at|digesting] the detail of the plans for {topic}.",
    "Critics pointed out that funding for {any_topic} had fallen by {pct} since {year_r}.",
    "Officials said further details, including how the money will be [shared|split|allocated] "
    "between areas, would follow {time}.",
    "Mr {speaker_surname} of {org_n} told us the announcement was a step in the right direction.",
    "Figures seen by this publication suggest {count} {benefs} in {region} could be affected.",
    "{Subject} {vp}{tail}.",
)

BULLET_INTROS: tuple[str, ...] = (
    "The funding will support:", "The plans include:", "Key measures include:", "This includes:",
    "Projects to benefit include:", "The package includes:", "Successful bids include:",
    "The new package includes:",
)
BULLETS: tuple[str, ...] = (
    "{count} new {noun_pl} in {any_place}",
    "{money} for {any_topic} in {any_place}",
    "{acting} {any_topic} for {benefs}",
    "a new partnership between {org_n} and {org}",
    "[extra|more|better|dedicated] support for {benefs} in {region}",
    "{money_small} to help {benefs} {support_verb}",
    "a [review|study|survey] of {any_topic}, led by {org_n}",
    "training for {count} {benefs} by {year_f}",
    "new powers for [councils|regulators|mayors] to {act} {any_topic}",
    "{acting} {any_topic} in {any_place} and {any_place}",
)
UPDATE_OPENERS: tuple[str, ...] = (
    "Update, {date_u}: ", "This release was updated on {date_u}. ", "Update {date_u}: ",
    "Further information, {date_u}: ",
)
STUB_TITLES: tuple[str, ...] = (
    "Flood warning for {place}", "Road closure at {place}", "Bathing water alert for {place}",
    "Planning notice for {place} bypass", "Temporary closure of {place} jobcentre",
    "Air quality alert for {place}", "Public inquiry opens in {place}",
    "Consultation event in {place}", "Power cut update for {place}",
    "New opening hours for {place} crematorium", "Fishing licence checks in {place}",
    "Bird flu confirmed near {place}", "Drought status update for {place}",
    "Court closure in {place}", "Tax office move in {place}", "Bridge inspection in {place}",
    "Wildfire risk warning for {place}", "Water supply interruption in {place}",
)
STUB_LINES: tuple[str, ...] = (
    "Read the full statement on the council website.",
    "Further details will be published in due course.",
    "This notice will be updated when more information is available.",
    "See the attached document for details.",
    "More information is available from the local office.",
    "This page has been archived.",
    "The full notice is available to download.",
    "Contact the press office for further information.",
)

#: Fixed pools of site boilerplate, so the same blocks repeat across many files as they do in
#: scraped archives (a tool can learn and strip them).
NEWSLETTERS: tuple[str, ...] = (
    "SIGN UP\nFor your free daily news bulletin",
    "SIGN UP\nFor your free daily news bulletin\nHighways jobs",
    "Sign up for our newsletter\n\nGet the latest news delivered to your inbox every morning.",
    "Subscribe to updates\n\nGet emails about this page",
    "Share this page\n\nFacebook\nTwitter\nLinkedIn\nEmail",
    "Is this page useful?\n\nYes\nNo\nReport a problem with this page",
)
_JOB_ADS: tuple[str, ...] = (
    "Catering Assistant\n\nNorth Yorkshire Council\n£12.65 per hour\n"
    "Do you enjoy delivering good food and friendly service to pupils and staff? "
    "Harrogate, North Yorkshire\n"
    "Recruiter: North Yorkshire Council",
    "Head of Transformation and Digital\n\nDerbyshire County Council\n£92,438 to £98,580\n"
    "Lead a varied portfolio including transformation, business support and ICT. Matlock\n"
    "Recruiter: Derbyshire County Council",
    "Housing Enforcement Manager\n\nWest Northamptonshire Council\n£49,587 to £52,860\n"
    "Lead our housing enforcement team and help redesign how we respond to complaints. "
    "Northampton\n"
    "Recruiter: West Northamptonshire Council",
    "Senior Highways Engineer\n\nCumbria County Council\n£41,418 to £45,441\n"
    "Design and deliver road safety schemes across the county. Kendal\n"
    "Recruiter: Cumbria County Council",
    "Director of Housing Policy\n\nLondon Borough of Hackney\n£116,286 - £127,606 per annum\n"
    "Make a visible difference and build a legacy. Hackney\n"
    "Recruiter: London Borough of Hackney",
    "Social Worker, Children in Need\n\nStockport Council\n£35,745 to £41,496\n"
    "Join a supportive team with manageable caseloads. Stockport\n"
    "Recruiter: Stockport Council",
    "Planning Officer\n\nTeignbridge District Council\n£33,820\n"
    "Help shape development across a beautiful part of Devon. Newton Abbot\n"
    "Recruiter: Teignbridge District Council",
)
JOB_BLOCKS: tuple[str, ...] = (
    "SIGN UP\nFor your free daily news bulletin\nHighways jobs\n\n" + "\n\n".join(_JOB_ADS[0:3]),
    "SIGN UP\nFor your free daily news bulletin\nHighways jobs\n\n" + "\n\n".join(_JOB_ADS[2:5]),
    "Latest jobs\n\n" + "\n\n".join(_JOB_ADS[4:7]),
    "Jobs\n\n" + "\n\n".join((_JOB_ADS[1], _JOB_ADS[5])),
    "Highways jobs\n\n" + "\n\n".join((_JOB_ADS[3], _JOB_ADS[6], _JOB_ADS[0])),
)

#: Substitutions for near copies: ordinary words only, never facts (numbers, names, places).
SYNONYMS: dict[str, str] = {
    "improve": "enhance", "expand": "extend", "protect": "safeguard", "deliver": "provide",
    "boost": "increase", "tackle": "address", "announced": "confirmed", "funding": "investment",
    "help": "support", "people": "residents", "across": "throughout", "plans": "proposals",
    "significant": "substantial", "vital": "crucial", "schemes": "programmes",
    "quickly": "rapidly", "communities": "neighbourhoods", "businesses": "firms",
    "support": "help", "work": "efforts", "first": "initial", "extra": "additional",
    "review": "examine", "government": "Government", "new": "fresh", "areas": "places",
    "benefit": "gain", "money": "cash", "local": "regional", "ensure": "make sure",
}
_SYNONYM_RE = re.compile(r"\b(" + "|".join(SYNONYMS) + r")\b")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"‘'])")
_FACTY = re.compile(r"[\d£%]")
_WORD = re.compile(r"\w+")
#: A space inside a sentence: after a word or comma, before a lower-case word.
_MID_SENTENCE_SPACE = re.compile(r"(?<=[\w,]) (?=[a-z])")

# fmt: on

# --------------------------------------------------------------------------------------------
# Character-level damage and its undoing.
# --------------------------------------------------------------------------------------------


def _sloppy_cp1252(data: bytes) -> str:
    """Decode bytes as Windows-1252, keeping its five undefined bytes as the same code points.

    This is what browsers and scrapers do, and what ftfy's "sloppy-windows-1252" undoes.
    """
    out: list[str] = []
    for byte in data:
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


_NON_ASCII = "’‘“”£–—é"
#: UTF-8 text read as Windows-1252: "£" -> "Â£", "’" -> "â€™", "”" -> "â€\x9d".
MOJIBAKE: dict[str, str] = {c: _sloppy_cp1252(c.encode("utf-8")) for c in _NON_ASCII}
_MOJIBAKE_TABLE = str.maketrans(MOJIBAKE)
_UNMOJIBAKE_RE = re.compile(
    "|".join(re.escape(v) for v in sorted(MOJIBAKE.values(), key=len, reverse=True))
)
_UNMOJIBAKE = {v: k for k, v in MOJIBAKE.items()}
_STRAIGHTEN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_CURL_OPEN_DOUBLE = re.compile(r'(^|[\s(\[])"', re.MULTILINE)
_CURL_OPEN_SINGLE = re.compile(r"(^|[\s(\[])'", re.MULTILINE)


def mojibake(text: str) -> str:
    """Return ``text`` as it looks after a UTF-8 -> Windows-1252 mix-up (``Â£17``, ``â€™``)."""
    return text.translate(_MOJIBAKE_TABLE)


def unmojibake(text: str) -> str:
    """Undo :func:`mojibake` exactly (our originals never contain the damaged sequences)."""
    if "â" not in text and "Â" not in text and "Ã" not in text:
        return text
    return _UNMOJIBAKE_RE.sub(lambda m: _UNMOJIBAKE[m.group(0)], text)


def straighten_quotes(text: str) -> str:
    """Replace curly quotes and apostrophes with straight ones."""
    return text.translate(_STRAIGHTEN)


def curl_quotes(text: str) -> str:
    """Replace straight quotes with curly ones: opening after a space or line start."""
    text = _CURL_OPEN_DOUBLE.sub(lambda m: m.group(1) + "“", text).replace('"', "”")
    return _CURL_OPEN_SINGLE.sub(lambda m: m.group(1) + "‘", text).replace("'", "’")


def shingles(text: str) -> set[tuple[str, ...]]:
    """Word 5-grams of ``text`` after undoing mojibake and case-folding.

    Words are ``\\w+`` runs, so quote style and link brackets (``[...](#)``) do not matter.
    """
    t = _WORD.findall(unmojibake(text).casefold())
    if len(t) < 5:
        return {tuple(t)}
    return set(zip(t, t[1:], t[2:], t[3:], t[4:], strict=False))


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


# --------------------------------------------------------------------------------------------
# Random fillers.
# --------------------------------------------------------------------------------------------


def _ri(rng: random.Random, a: int, b: int) -> int:
    """``rng.randint(a, b)`` at a third of the cost (it is called ~30 times per article)."""
    return a + int(rng.random() * (b - a + 1))


def _pick(rng: random.Random, seq: Sequence[str]) -> str:
    return seq[int(rng.random() * len(seq))]


def _money(rng: random.Random) -> str:
    """A sum as GOV.UK writes it: £17 million, £2.5 billion, £450,000, £59,898."""
    r = rng.random()
    if r < 0.36:
        return f"£{_ri(rng, 1, 95)} million"
    if r < 0.45:
        return f"£{_ri(rng, 100, 950)} million"
    if r < 0.6:
        return f"£{_ri(rng, 1, 9)}.{_ri(rng, 1, 9)} million"
    if r < 0.64:
        return f"£{_ri(rng, 1, 9)}.{_ri(rng, 1, 9)} billion"
    if r < 0.68:
        return f"£{_ri(rng, 1, 30)} billion"
    if r < 0.85:
        return f"£{_ri(rng, 10, 990) * 1000:,}"
    return f"£{_ri(rng, 1000, 99999):,}"


def _money_small(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return f"£{_ri(rng, 5, 500) * 1000:,}"
    return f"£{_ri(rng, 500, 20000):,}"


def _count(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return str(_ri(rng, 2, 99))
    if r < 0.93:
        return f"{_ri(rng, 100, 9999):,}"
    return f"{_ri(rng, 100, 5000) * 100:,}"


def _pct(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return f"{_ri(rng, 2, 95)}%"
    if r < 0.8:
        return f"{_ri(rng, 1, 60)}.{_ri(rng, 1, 9)}%"
    return f"{_ri(rng, 2, 95)} per cent"


def _date(rng: random.Random) -> str:
    return f"{_ri(rng, 1, 28)} {MONTHS[int(rng.random() * 12)]} {_ri(rng, 2012, 2024)}"


def _month(rng: random.Random) -> str:
    return f"{MONTHS[int(rng.random() * 12)]} {_ri(rng, 2012, 2024)}"


def _name(rng: random.Random) -> str:
    return f"{_pick(rng, FIRST_NAMES)} {_pick(rng, SURNAMES)}"


def _programme(rng: random.Random) -> str:
    return f"{_pick(rng, PROG_ADJ)} {_pick(rng, PROG_NOUN)} {_pick(rng, PROG_KIND)}"


def _org(rng: random.Random) -> str:
    return f"{_pick(rng, PLACES)} {_pick(rng, ORG_SUFFIX)}"


_N_WORDS = ("two", "three", "four", "five", "six", "ten", "twenty")

#: Slots drawn afresh at every use; any other ``{key}`` is a fact of the article.
POOLS: dict[str, tuple[str, ...]] = {
    "act": ACTS,
    "acting": ACTINGS,
    "benefs": BENEFICIARIES,
    "person": PERSONS,
    "noun_pl": NOUN_PL,
    "org_n": NATIONAL_ORGS,
    "report": REPORTS,
    "report_title": REPORT_TITLES,
    "time": TIMES,
    "conn": CONNECTORS,
    "period": PERIODS,
    "stat_obj": STAT_OBJECTS,
    "adj_progress": ADJ_PROGRESS,
    "support_verb": SUPPORT_VERBS,
    "any_place": PLACES,
    "headline_actor": HEADLINE_ACTORS,
    "event": EVENTS,
    "offence": OFFENCES,
    "n_word": _N_WORDS,
    "any_topic": tuple(t for d in DEPARTMENTS for t in d[3]),
}
GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "money": _money,
    "money_small": _money_small,
    "count": _count,
    "count_t": _count,
    "pct": _pct,
    "date_r": _date,
    "month_r": _month,
    "name": _name,
    "year_r": lambda r: str(_ri(r, 2010, 2024)),
    "year_f": lambda r: str(_ri(r, 2025, 2035)),
    "weeks": lambda r: str(_ri(r, 4, 52)),
    "programme2": _programme,
    "org_r": _org,
}
#: Each department's own topics: "any topic" mostly stays within the department, so an
#: article reads as one department's release rather than a random mix.
_DEPT_TOPICS: dict[str, tuple[str, ...]] = {d[0]: d[3] for d in DEPARTMENTS}
_OWN_TOPIC_SHARE = 0.7

# Templates are compiled once into (op, value) pairs and rendered by one loop. This is about
# twice as fast as ``str.format_map`` with a ``__missing__`` hook, which cost a Python call
# per slot (over 100 slots per article).
Op = tuple[int, Any]
Template = tuple[Op, ...]
LIT, POOL, FACT, GEN, NEST, CAP, TOPIC = range(7)
_TOKEN_RE = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]|\{(\w+)\}")
_NESTED_POOLS: dict[str, tuple[Template, ...]] = {}


def _slot(key: str) -> Op:
    """The op for ``{key}``; ``{Key}`` is the same slot with its first letter capitalised."""
    if key[0].isupper():
        return (CAP, (_slot(key[0].lower() + key[1:]),))
    if key == "any_topic":
        return (TOPIC, POOLS[key])
    if key in _NESTED_POOLS:
        return (NEST, _NESTED_POOLS[key])
    if key in POOLS:
        return (POOL, POOLS[key])
    if key in GENERATORS:
        return (GEN, GENERATORS[key])
    return (FACT, key)


def compile_template(text: str) -> Template:
    """Compile ``{slot}`` and ``[a|b|c]`` (one alternative drawn at each use) into ops.

    >>> compile_template("[a|b] {place}.")
    ((1, ('a', 'b')), (0, ' '), (2, 'place'), (0, '.'))
    """
    ops: list[Op] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        if m.start() > pos:
            ops.append((LIT, text[pos : m.start()]))
        if m.group(1) is not None:
            options = m.group(1).split("|")
            if any("{" in o for o in options):
                ops.append((NEST, tuple(compile_template(o) for o in options)))
            else:
                ops.append((POOL, tuple(options)))
        else:
            ops.append(_slot(m.group(2)))
        pos = m.end()
    if pos < len(text):
        ops.append((LIT, text[pos:]))
    return tuple(ops)


def compile_all(templates: Sequence[str]) -> tuple[Template, ...]:
    return tuple(compile_template(t) for t in templates)


_NESTED_POOLS["subject"] = compile_all(SUBJECTS)
_NESTED_POOLS["vp"] = compile_all(VPS)
_NESTED_POOLS["tail"] = compile_all(TAILS)
BODY_T = compile_all(BODY)
QUOTE_T = compile_all(QUOTE)
PARTNER_QUOTE_T = compile_all(PARTNER_QUOTE)
LEADS_T = {family: compile_all(leads) for family, leads in LEADS.items()}
TITLES_T = {
    kind: tuple((compile_template(t), fam, facts) for t, fam, facts in titles)
    for kind, titles in TITLES.items()
}
RELATED_TITLES_T = compile_all(RELATED_TITLES)
RELATED_LEADS_T = compile_all(RELATED_LEADS)
RELATED_BODY_T = compile_all(RELATED_BODY)
BULLETS_T = compile_all(BULLETS)
UPDATE_OPENERS_T = compile_all(UPDATE_OPENERS)
ATTRIBUTION_FIRST_T = compile_all(
    (
        "{Role} {minister} said:",
        "{minister}, {role}, said:",
        "{Role} {minister} said:",
        "Speaking during a visit to {place}, {minister} said:",
        "The {secretary} {secname} said:",
    )
)
ATTRIBUTION_OTHER_T = compile_all(
    (
        "{speaker}, {speaker_role} at {org}, said:",
        "{Speaker_role} of {org}, {speaker}, said:",
        "{name}, {speaker_role} at {org_n}, said:",
        "{Speaker_role} at {org_n}, {name}, added:",
    )
)


class Ctx:
    """What templates are rendered with: the article's facts and the random generator."""

    __slots__ = ("facts", "rnd", "rng", "topics")

    def __init__(self, rng: random.Random, facts: dict[str, str]) -> None:
        self.facts = facts
        self.rng = rng
        self.rnd = rng.random
        self.topics = _DEPT_TOPICS.get(facts.get("dept", ""), ())

    def fill(self, templates: Sequence[Template]) -> str:
        """Render one template drawn from ``templates``."""
        return render(templates[int(self.rnd() * len(templates))], self)


def render(template: Template, ctx: Ctx) -> str:
    """Render a compiled template: random slots are drawn afresh at each use."""
    rnd = ctx.rnd
    out: list[str] = []
    for op, val in template:  # ops in order of frequency
        if op == POOL:
            out.append(val[int(rnd() * len(val))])
        elif op == LIT:
            out.append(val)
        elif op == FACT:
            out.append(ctx.facts[val])
        elif op == NEST:
            out.append(render(val[int(rnd() * len(val))], ctx))
        elif op == TOPIC:
            pool = ctx.topics if ctx.topics and rnd() < _OWN_TOPIC_SHARE else val
            out.append(pool[int(rnd() * len(pool))])
        elif op == GEN:
            out.append(val(ctx.rng))
        else:  # CAP
            text = render(val, ctx)
            out.append(text[:1].upper() + text[1:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Articles.
# --------------------------------------------------------------------------------------------


class Article:
    """One generated original, kept in the reservoir so copies can be planted from it.

    ``blocks`` are the paragraphs (a bullet list or a boilerplate block is one block);
    ``kinds`` has one letter per block: h header, p paragraph, t subheading, a quote
    attribution, q quote, b bullets, n boilerplate.
    """

    __slots__ = (
        "blocks",
        "facts",
        "has_relative",
        "id",
        "kinds",
        "straight",
        "text",
        "title",
        "title_facts",
        "type",
    )

    def __init__(
        self,
        aid: str,
        typ: str,
        title: str,
        blocks: list[str],
        kinds: str,
        facts: dict[str, str],
        title_facts: tuple[str, ...],
        straight: bool,
    ) -> None:
        self.id = aid
        self.type = typ
        self.title = title
        self.blocks = blocks
        self.kinds = kinds
        self.facts = facts
        self.title_facts = title_facts
        self.straight = straight
        self.text = "\n\n".join(blocks)
        self.has_relative = False


def _word_count(text: str) -> int:
    return text.count(" ") + 1


class Writer:
    """Writes articles and their planted copies from one random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rnd = rng.random
        self.stub_titles: set[str] = set()

    # ---- helpers -------------------------------------------------------------------------
    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.rnd() * len(seq))]

    def facts(self) -> Ctx:
        """Draw the fixed facts of one article (its department, minister, place, money, ...)."""
        rng = self.rng
        dept, secretary, portfolios, topics, phone = self.pick(DEPARTMENTS)
        topic = self.pick(topics)
        topic2 = self.pick(topics)
        leader_title, leader, country = self.pick(LEADERS)
        org_suffix = self.pick(ORG_SUFFIX)
        org = f"{self.pick(PLACES)} {org_suffix}"
        place = self.pick(PLACES)
        facts = {
            "dept": dept,
            "secretary": secretary,
            "phone": phone,
            "role": f"Minister for {self.pick(portfolios)}" if self.rnd() < 0.75 else secretary,
            "minister": _name(rng),
            "secname": _name(rng),
            "place": place,
            "region": self.pick(REGIONS),
            "topic": topic,
            "topic2": topic2,
            "amount": _money(rng),
            "date": _date(rng),
            "programme": _programme(rng),
            "org": org,
            "org_short": f"the {org_suffix}" if self.rnd() < 0.5 else org,
            "speaker": _name(rng),
            "speaker_role": self.pick(ORG_ROLES),
            "date_u": _date(rng),
            "benef": self.pick(BENEFICIARIES),
            "leader_title": leader_title,
            "leader": leader,
            "country": country,
        }
        facts["speaker_surname"] = facts["speaker"].rsplit(" ", 1)[1]
        return Ctx(rng, facts)

    def sentences(
        self, s: Ctx, templates: Sequence[Template], n: int, no_facts: bool = False
    ) -> str:
        """``n`` filled sentences joined into one paragraph, no template used twice."""
        out: list[str] = []
        used: list[int] = []
        while len(out) < n:
            i = int(self.rnd() * len(templates))
            if i in used and len(used) < len(templates):
                continue
            sentence = render(templates[i], s)
            if no_facts and _FACTY.search(sentence):
                continue
            used.append(i)
            out.append(sentence)
        return " ".join(out)

    def quote_block(self, s: Ctx, templates: Sequence[Template], style: str) -> str:
        text = self.sentences(s, templates, self.rng.randint(2, 4))
        return f"“{text}”" if style == "curly" else text

    def attribution(self, s: Ctx, first: bool) -> str:
        """The line introducing a quote: the minister first, then partners."""
        return s.fill(ATTRIBUTION_FIRST_T if first else ATTRIBUTION_OTHER_T)

    # ---- originals -----------------------------------------------------------------------
    def original(self, aid: str) -> Article:
        """A fresh article of 160-940 words (median about 410)."""
        rng, rnd = self.rng, self.rnd
        s = self.facts()
        typ = rng.choices(TYPES, TYPE_WEIGHTS)[0]
        title_tmpl, family, title_facts = self.pick(TITLES_T.get(typ, TITLES_T["announce"]))
        title = render(title_tmpl, s)
        title = title[0].upper() + title[1:]
        blocks = [f"{typ}: {title}"]
        kinds = ["h"]
        target = int(rng.triangular(140, 820, 180))
        quote_style = "curly" if rnd() < 0.8 else "none"
        if typ in ("Press release", "News story") and rnd() < 0.25:
            blocks.append("\n".join("- " + s.fill(BULLETS_T) for _ in range(rng.randint(2, 3))))
            kinds.append("b")
        lead = s.fill(LEADS_T[family])
        blocks.append(lead + " " + self.sentences(s, BODY_T, rng.randint(1, 2)))
        kinds.append("p")
        words = sum(_word_count(b) for b in blocks[1:])
        quotes_left = 1 + (target >= 320) + (target >= 520) + (target >= 700)
        quotes_done = 0
        bullets_left = 1 if rnd() < 0.6 else 0
        while words < target or quotes_done == 0:
            r = rnd()
            if quotes_left and (r < 0.4 or words >= target):
                first = quotes_done == 0
                blocks.append(self.attribution(s, first))
                blocks.append(
                    self.quote_block(
                        s, QUOTE_T if first or rnd() < 0.3 else PARTNER_QUOTE_T, quote_style
                    )
                )
                kinds += ["a", "q"]
                quotes_left -= 1
                quotes_done += 1
                words += _word_count(blocks[-2]) + _word_count(blocks[-1])
            elif bullets_left and r < 0.55:
                blocks.append(self.pick(BULLET_INTROS))
                blocks.append("\n".join("- " + s.fill(BULLETS_T) for _ in range(rng.randint(3, 6))))
                kinds += ["p", "b"]
                bullets_left = 0
                words += _word_count(blocks[-2]) + _word_count(blocks[-1])
            else:
                para = self.sentences(s, BODY_T, rng.randint(2, 5))
                if rnd() < 0.08:  # an inline link, as in scraped pages
                    programme = s.facts["programme"]
                    para = para.replace(programme, f"[{programme}](#)", 1)
                blocks.append(para)
                kinds.append("p")
                words += _word_count(para)
        if rnd() < 0.2:
            blocks.append("Notes to editors")
            contact = f"For more information contact the press office on {s.facts['phone']}."
            blocks.append(self.sentences(s, BODY_T, rng.randint(1, 3)) + " " + contact)
            kinds += ["t", "p"]
        if rnd() < 0.05:
            blocks.append(self.pick(NEWSLETTERS))
            kinds.append("n")
        straight = rnd() < 0.2
        if straight:
            blocks = [straighten_quotes(b) for b in blocks]
            title = straighten_quotes(title)
        return Article(aid, typ, title, blocks, "".join(kinds), s.facts, title_facts, straight)

    def stub(self) -> str:
        """A title and one line; titles are unique, so distinct stubs are never duplicates."""
        typ = self.rng.choices(TYPES, TYPE_WEIGHTS)[0]
        while True:
            title = f"{self.pick(STUB_TITLES).format(place=self.pick(PLACES))}: {_date(self.rng)}"
            if title not in self.stub_titles:
                break
        self.stub_titles.add(title)
        return f"{typ}: {title}\n\n{self.pick(STUB_LINES)}"

    # ---- near copies ---------------------------------------------------------------------
    def near(self, orig: Article) -> tuple[str, list[str]]:
        """A damaged copy of ``orig`` with word 5-gram Jaccard >= 0.8 once damage is undone.

        Word-level edits (substitutions, a dropped or added sentence, boilerplate) are drawn
        first and the Jaccard is checked; if the draw falls below 0.8 it is redrawn with fewer
        damages. Character-level damage (quotes, brackets, split paragraphs, mojibake) does
        not change the words and is applied last.
        """
        rng = self.rng
        orig_sh = shingles(orig.text)
        names = ("quotes", "title", "split", "substitute", "drop", "add", "boilerplate", "mojibake")
        weights = (3, 2, 2, 3, 2, 2, 3, 1)
        for attempt in range(6):
            n = rng.randint(1, 3) if attempt < 3 else 1
            damages: list[str] = []
            while len(damages) < n:
                d = rng.choices(names, weights)[0]
                if d not in damages:
                    damages.append(d)
            if attempt == 5:  # last resort: bracketing the title never changes a word
                damages = ["title"]
            blocks = list(orig.blocks)
            kinds = list(orig.kinds)
            if "substitute" in damages:
                self._substitute(blocks, kinds)
            if "drop" in damages:
                self._drop_sentence(blocks, kinds)
            if "add" in damages:
                self._add_sentence(blocks, kinds, Ctx(rng, orig.facts), orig.straight)
            if "boilerplate" in damages:
                blocks.append(self.pick(NEWSLETTERS if rng.random() < 0.6 else JOB_BLOCKS))
                kinds.append("n")
            if "split" in damages:
                self._split_paragraph(blocks, kinds)
            if "title" in damages:
                blocks[0] = self._break_title(orig.type, blocks[0][len(orig.type) + 2 :])
            text = "\n\n".join(blocks)
            if "quotes" in damages:
                text = curl_quotes(text) if orig.straight else straighten_quotes(text)
            if "mojibake" in damages:
                text = mojibake(text)
            if text == orig.text or len(HEADER_RE.findall(text)) != 1:
                continue
            if jaccard(orig_sh, shingles(text)) >= NEAR_MIN_JACCARD:
                return text, damages
        raise AssertionError(f"could not make a near copy of {orig.id} with Jaccard >= 0.8")

    def _substitute(self, blocks: list[str], kinds: list[str]) -> None:
        """Swap 1-4 ordinary words for synonyms (never more than 3% of the words)."""
        body = [i for i, k in enumerate(kinds) if k in "pq"]
        matches = [
            (i, m.start(), m.end(), m.group(0))
            for i in body
            for m in _SYNONYM_RE.finditer(blocks[i])
        ]
        if not matches:
            return
        words = sum(_word_count(blocks[i]) for i in body)
        k = min(len(matches), self.rng.randint(1, 4), max(1, int(words * 0.03)))
        chosen = sorted(self.rng.sample(range(len(matches)), k), reverse=True)
        for j in chosen:  # right to left, so earlier offsets stay valid
            i, start, end, word = matches[j]
            blocks[i] = blocks[i][:start] + SYNONYMS[word] + blocks[i][end:]

    def _body_paragraphs(
        self, blocks: list[str], kinds: list[str], min_sentences: int
    ) -> list[int]:
        return [
            i
            for i, k in enumerate(kinds)
            if k == "p"
            and not blocks[i].endswith(":")
            and len(_SENTENCE_SPLIT.split(blocks[i])) >= min_sentences
        ]

    def _drop_sentence(self, blocks: list[str], kinds: list[str]) -> None:
        """Drop one sentence that states no fact (no digits, money or percentages)."""
        candidates = []
        for i in self._body_paragraphs(blocks, kinds, 2):
            parts = _SENTENCE_SPLIT.split(blocks[i])
            candidates += [(i, j) for j, sent in enumerate(parts) if not _FACTY.search(sent)]
        if candidates:
            i, j = self.pick(candidates)
            parts = _SENTENCE_SPLIT.split(blocks[i])
            del parts[j]
            blocks[i] = " ".join(parts)

    def _add_sentence(self, blocks: list[str], kinds: list[str], s: Ctx, straight: bool) -> None:
        """Insert one new sentence stating no fact into a body paragraph."""
        candidates = self._body_paragraphs(blocks, kinds, 1)
        if candidates:
            i = self.pick(candidates)
            parts = _SENTENCE_SPLIT.split(blocks[i])
            sentence = self.sentences(s, BODY_T, 1, no_facts=True)
            parts.insert(
                self.rng.randint(0, len(parts)),
                straighten_quotes(sentence) if straight else sentence,
            )
            blocks[i] = " ".join(parts)

    def _split_paragraph(self, blocks: list[str], kinds: list[str]) -> None:
        """Insert a blank line mid-sentence, before a lower-case word, as broken scrapes do."""
        candidates = [i for i, k in enumerate(kinds) if k in "pq" and _word_count(blocks[i]) >= 16]
        if not candidates:
            return
        i = self.pick(candidates)
        text = blocks[i]
        lo, hi = len(text) * 3 // 10, len(text) * 7 // 10
        spaces = [m.start() for m in _MID_SENTENCE_SPACE.finditer(text, lo, hi)]
        if spaces:
            cut = self.pick(spaces)
            blocks[i] = text[:cut] + "\n\n" + text[cut + 1 :]

    def _break_title(self, typ: str, title: str) -> str:
        """Wrap the header in link brackets, breaking it across two paragraphs or not."""
        words = title.split(" ")
        r = self.rnd()
        if len(words) < 3 or r < 0.2:
            return f"[{typ}: {title}](#)"
        cut = self.rng.randint(max(1, len(words) * 2 // 5), max(1, len(words) * 4 // 5))
        cut = min(cut, len(words) - 1)
        head, tail = " ".join(words[:cut]), " ".join(words[cut:])
        if r < 0.6:
            return f"{typ}: {head}\n\n[{tail}](#)"
        return f"[{typ}: {head}](#)\n\n{tail}"

    # ---- relatives -----------------------------------------------------------------------
    def update(self, orig: Article) -> str:
        """The original plus one or two new paragraphs (Jaccard kept between 0.5 and 0.8)."""
        rng = self.rng
        s = Ctx(rng, orig.facts)
        orig_sh = shingles(orig.text)
        # Keep trailing boilerplate at the end, as a site would.
        tail = len(orig.kinds) - len(orig.kinds.rstrip("n"))
        head_blocks = orig.blocks[: len(orig.blocks) - tail]
        tail_blocks = orig.blocks[len(orig.blocks) - tail :]
        orig_words = sum(_word_count(b) for b in head_blocks[1:])
        goal = orig_words * rng.uniform(0.35, 0.8)
        paras = [s.fill(UPDATE_OPENERS_T) + self.sentences(s, BODY_T, 1)]
        n_paras = 1 if goal < 120 or rng.random() < 0.4 else 2
        while sum(_word_count(p) for p in paras) < goal:
            if len(paras) < n_paras and _word_count(paras[-1]) > goal / n_paras:
                paras.append(self.sentences(s, BODY_T, 1))
            else:
                paras[-1] += " " + self.sentences(s, BODY_T, 1)
        lo, hi = CONTAINS_RANGE
        for _ in range(40):
            text = "\n\n".join([*head_blocks, *paras, *tail_blocks])
            j = jaccard(orig_sh, shingles(text))
            if lo <= j <= hi:
                if orig.straight:
                    text = straighten_quotes(text)
                return text
            if j > hi:
                paras[-1] += " " + self.sentences(s, BODY_T, 1)
            else:
                parts = _SENTENCE_SPLIT.split(paras[-1])
                if len(parts) > 1:
                    paras[-1] = " ".join(parts[:-1])
                elif len(paras) > 1:
                    paras.pop()
                else:
                    break
        raise AssertionError(
            f"could not make an update of {orig.id} with Jaccard in {CONTAINS_RANGE}"
        )

    def rewrite(self, orig: Article) -> str:
        """A trade-paper story re-using 2-4 of the original’s quote paragraphs verbatim."""
        rng = self.rng
        s = Ctx(rng, orig.facts)
        quotes = [b for b, k in zip(orig.blocks, orig.kinds, strict=True) if k == "q"]
        k = min(len(quotes), rng.randint(2, 4))
        picked = sorted(rng.sample(range(len(quotes)), k))
        single = rng.random() < 0.6
        reused = []
        for i in picked:
            q = quotes[i].strip('“”"')
            reused.append("'" + straighten_quotes(q) + "'" if single else quotes[i])
        title = s.fill(RELATED_TITLES_T)
        blocks = [
            f"News story: {title[0].upper()}{title[1:]}",
            f"{_name(rng)} {_date(rng)}",
            s.fill(RELATED_LEADS_T),
            self.sentences(s, RELATED_BODY_T, rng.randint(1, 3)),
        ]
        for q in reused:
            if rng.random() < 0.5:
                blocks.append(self.sentences(s, RELATED_BODY_T, rng.randint(1, 2)))
            blocks.append(q)
        blocks.append(self.sentences(s, RELATED_BODY_T, rng.randint(1, 2)))
        blocks.append(self.pick(JOB_BLOCKS))
        orig_sh = shingles(orig.text)
        for _ in range(20):
            text = "\n\n".join(blocks)
            if jaccard(orig_sh, shingles(text)) < RELATED_MAX_JACCARD - 0.05:
                return text
            blocks.insert(-1, self.sentences(s, RELATED_BODY_T, 3))
        raise AssertionError(f"could not make a rewrite of {orig.id} with Jaccard < 0.45")

    def sibling(self, orig: Article) -> str | None:
        """Same template and wording, different facts: money, a date, or a place or name."""
        rng = self.rng
        text = orig.text
        options = [
            f for f in ("amount", "date", "place", "leader", "minister") if f in orig.title_facts
        ]
        options += [f for f in ("amount", "date") if f not in options and orig.facts[f] in text]
        if not options:
            return None
        kinds = rng.sample(options, min(len(options), 2 if rng.random() < 0.25 else 1))
        for kind in kinds:
            old = orig.facts[kind]
            if kind == "amount":
                new = _perturb_money(old, rng, text)
            elif kind == "date":
                new = _perturb_date(old, rng, text)
            elif kind == "place":
                new = old
                while new == old or re.search(rf"\b{re.escape(new)}\b", text):
                    new = self.pick(PLACES)
            elif kind == "leader":
                t, n, c = self.pick([x for x in LEADERS if x[1] != old])
                text = text.replace(f"{orig.facts['leader_title']} {old}", f"{t} {n}")
                text = re.sub(rf"\b{re.escape(orig.facts['country'])}\b", c, text)
                new = n
            else:
                new = _name(rng)
            # Whole occurrences only: "9 July 2018" must not match inside "19 July 2018".
            pattern = rf"(?<![\w£.,]){re.escape(old)}(?![\w]|[.,]\d)"
            text = re.sub(pattern, new.replace("\\", "\\\\"), text)
        if text == orig.text:
            raise AssertionError(f"template sibling of {orig.id} is identical")
        return text


def _perturb_money(amount: str, rng: random.Random, text: str) -> str:
    """The same kind of amount with a different number: £17 million -> £18 million."""
    m = re.fullmatch(r"£([\d,]+(?:\.\d)?)(.*)", amount)
    if m is None:
        raise ValueError(f"not an amount: {amount}")
    num, unit = m.group(1), m.group(2)
    while True:
        if "." in num:
            step = rng.choice((-1.5, -1, -0.5, -0.2, 0.2, 0.5, 1, 1.5))
            new = f"{max(0.1, float(num) + step):.1f}"
        elif "," in num:
            value = int(num.replace(",", ""))
            step = 1000 if value % 1000 == 0 else 1
            new = f"{max(step, round(value * rng.uniform(0.7, 1.3) / step) * step):,}"
        else:
            new = str(max(1, int(num) + rng.choice((-3, -2, -1, 1, 2, 3, 5, 10))))
        out = f"£{new}{unit}"
        if out != amount and out not in text:
            return out


def _perturb_date(date: str, rng: random.Random, text: str) -> str:
    """A different day, month or year, e.g. 9 July 2018 -> 16 July 2018."""
    day, month, year = date.split(" ")
    while True:
        r = rng.random()
        if r < 0.6:
            new = f"{rng.randint(1, 28)} {month} {year}"
        elif r < 0.85:
            new = f"{day} {rng.choice(MONTHS)} {year}"
        else:
            new = f"{day} {month} {int(year) + rng.choice((-1, 1))}"
        if new != date and new not in text:
            return new


# --------------------------------------------------------------------------------------------
# The archive.
# --------------------------------------------------------------------------------------------

ENCODINGS = ("utf-8-sig", "utf-16", "cp1252", "gzip")


def _encode(text: str, encoding: str) -> tuple[bytes, str]:
    """Bytes for one file and the encoding actually used.

    UTF-16 is written little-endian with a BOM whatever the machine. A cp1252 file whose text
    cannot be encoded (mojibake keeps an undefined byte as U+009D) falls back to UTF-8.
    """
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le"), encoding
    if encoding == "utf-8-sig":
        return text.encode("utf-8-sig"), encoding
    if encoding == "cp1252":
        try:
            return text.encode("cp1252"), encoding
        except UnicodeEncodeError:
            return text.encode("utf-8"), "utf-8"
    if encoding == "gzip":
        return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0), encoding
    return text.encode("utf-8"), "utf-8"


class _Truth:
    """Compact labels: only planted links are stored, never one entry per article."""

    def __init__(self) -> None:
        self.clusters: dict[str, list[str]] = {}
        self.copy_kinds: dict[str, str] = {}
        self.relations: list[dict[str, str]] = []
        self.stubs: list[str] = []
        self.counts = dict.fromkeys(("original", "stub", *COPY_KINDS), 0)


def generate(
    out_dir: str | Path,
    articles: int,
    seed: int,
    dup_rate: float = 0.1,
    encodings: bool = False,
    quiet: bool = True,
) -> dict[str, Any]:
    """Write ``out_dir/dump/*.txt`` and ``out_dir/truth.json``; return a summary.

    Existing generated files (``NNNNN.txt``, ``NNNNN.txt.gz``) in ``dump/`` are removed first so
    a smaller run never leaves stale files behind; nothing else is touched.
    """
    if articles < 1:
        raise ValueError("articles must be at least 1")
    if not 0 <= dup_rate < 1:
        raise ValueError("dup_rate must be in [0, 1)")
    start = time.perf_counter()
    out = Path(out_dir)
    dump = out / "dump"
    dump.mkdir(parents=True, exist_ok=True)
    for stale in dump.iterdir():
        if re.fullmatch(r"\d{5,}\.txt(\.gz)?", stale.name):
            stale.unlink()

    rng = random.Random(seed)
    enc_rng = random.Random(f"{seed}/encodings")
    writer = Writer(rng)
    truth = _Truth()
    recent: deque[Article] = deque(maxlen=RECENT_SIZE)
    old: list[Article] = []
    evicted = 0
    width = max(5, len(str(articles // 10 + 1)))
    file_encodings: dict[str, str] = {}
    produced = n_files = total_bytes = 0

    def plant(aid: str) -> str:
        """A copy or relative of a reservoir original, recorded in the truth."""
        kind = rng.choices(COPY_KINDS, COPY_WEIGHTS)[0]
        src = old if old and rng.random() < OLD_SHARE else recent
        orig = src[int(rng.random() * len(src))]
        if kind in ("contains", "related", "template_sibling"):
            for _ in range(5):
                ok = not orig.has_relative and (kind != "related" or orig.kinds.count("q") >= 2)
                if ok:
                    break
                orig = src[int(rng.random() * len(src))]
            else:
                kind = "near"
        if kind == "exact":
            text = orig.text
        elif kind == "near":
            text, damages = writer.near(orig)
            truth.copy_kinds[aid] = "near:" + ",".join(damages)
        elif kind == "contains":
            text = writer.update(orig)
        elif kind == "related":
            text = writer.rewrite(orig)
        else:
            sibling = writer.sibling(orig)
            if sibling is None:  # no fact to change: plant a near copy instead
                kind = "near"
                text, damages = writer.near(orig)
                truth.copy_kinds[aid] = "near:" + ",".join(damages)
            else:
                text = sibling
        truth.counts[kind] += 1
        if kind in ("exact", "near"):
            truth.clusters.setdefault(orig.id, []).append(aid)
            truth.copy_kinds.setdefault(aid, "exact")
        else:
            orig.has_relative = True
            truth.relations.append({"a": orig.id, "b": aid, "type": kind})
        return text

    while produced < articles:
        n_files += 1
        enc = "utf-8"
        if encodings:
            enc = (
                ENCODINGS[n_files - 2]
                if 2 <= n_files <= 5
                else (ENCODINGS[int(enc_rng.random() * 4)] if enc_rng.random() < 0.04 else "utf-8")
            )
        name = f"{n_files:0{width}d}.txt" + (".gz" if enc == "gzip" else "")
        n = min(rng.randint(10, 70), articles - produced)
        texts = []
        for ordinal in range(1, n + 1):
            aid = f"{name}#{ordinal}"
            if recent and rng.random() < dup_rate:
                text = plant(aid)
            elif rng.random() < STUB_RATE:
                text = writer.stub()
                truth.stubs.append(aid)
                truth.counts["stub"] += 1
            else:
                art = writer.original(aid)
                text = art.text
                truth.counts["original"] += 1
                if len(recent) == RECENT_SIZE:  # reservoir-sample what falls out of `recent`
                    evicted += 1
                    if len(old) < OLD_SIZE:
                        old.append(recent[0])
                    else:
                        j = int(rng.random() * evicted)
                        if j < OLD_SIZE:
                            old[j] = recent[0]
                recent.append(art)
            if len(HEADER_RE.findall(text)) != 1 or not HEADER_RE.match(text):
                raise AssertionError(f"{aid}: header line missing or repeated")
            texts.append(text)
        data, used = _encode("\n\n" + "\n\n".join(texts) + "\n", enc)
        if used != "utf-8":
            file_encodings[name] = used
        (dump / name).write_bytes(data)
        total_bytes += len(data)
        produced += n

    clusters = [[oid, *copies] for oid, copies in truth.clusters.items()]
    doc = {
        "generator": f"{GENERATOR} v{FORMAT_VERSION}",
        "seed": seed,
        "articles": articles,
        "files": n_files,
        "dup_rate": dup_rate,
        "counts": truth.counts,
        "file_encodings": file_encodings,
        "clusters": clusters,
        "relations": truth.relations,
        "stubs": truth.stubs,
        "copy_kinds": truth.copy_kinds,
    }
    with (out / "truth.json").open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    seconds = time.perf_counter() - start
    summary = {
        "files": n_files,
        "articles": articles,
        "bytes": total_bytes,
        "seconds": round(seconds, 3),
        "clusters": len(clusters),
        "cluster_articles": sum(len(c) for c in clusters),
        "relations": len(truth.relations),
        "stubs": len(truth.stubs),
        "counts": truth.counts,
    }
    if not quiet:
        print(
            f"corpus: {n_files:,} files, {articles:,} articles, {total_bytes / 1e6:,.1f} MB, "
            f"{seconds:.1f} s ({articles / seconds:,.0f} articles/s, "
            f"{total_bytes / 1e6 / seconds:,.1f} MB/s) -> {out}"
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, required=True, help="number of articles to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", required=True, help="output folder: gets dump/ and truth.json")
    parser.add_argument(
        "--dup-rate",
        type=float,
        default=0.1,
        help="share of articles that are planted copies or relatives (default 0.1)",
    )
    parser.add_argument(
        "--encodings",
        action="store_true",
        help="also write some files as UTF-8 with BOM, UTF-16, cp1252 and gzip",
    )
    args = parser.parse_args(argv)
    try:
        generate(args.out, args.articles, args.seed, args.dup_rate, args.encodings, quiet=False)
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
