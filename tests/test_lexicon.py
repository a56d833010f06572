"""The furniture lexicon: matches, bylines, datelines, attributions, pitch openers, data files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import lexicon
from dedupe.lexicon import (
    CATEGORIES,
    LANGUAGES,
    MODES,
    Hit,
    attributions,
    byline,
    dateline_prefix,
    match,
    normalize,
    pitch_opener,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def category(text: str) -> str | None:
    hit = match(text)
    return hit.category if hit else None


# --- furniture from the sample articles --------------------------------------------------

SEED_FURNITURE = [
    ("Submit ", "widget"),
    ("Δ", "widget"),
    ("\t\tThanks for contacting us. We've received your submission.\t", "form"),
    ("Thanks for contacting us.", "form"),
    ("We’ve received your submission.", "form"),
    ("Share Selection", "widget"),
    (
        "[Click here](#) to learn more about the invasion of illegal aliens, and how to take action.",
        "cta",
    ),
    ("Subscribe to the New American", "subscribe"),
    (
        "Get exclusive digital access to the most informative, non-partisan truthful news source"
        " for patriotic Americans!",
        "subscribe",
    ),
    ("What's Included?", "subscribe"),
    ("- 24 Issues Per Year", "subscribe"),
    ("- Optional Print Edition", "subscribe"),
    ("- Digital Edition Access", "subscribe"),
    ("- Exclusive Subscriber Content", "subscribe"),
    ("- Unlimited access to past issues", "subscribe"),
    ("- Coming Soon! Ad FREE", "subscribe"),
    ("Ad FREE", "subscribe"),
    ("- 60-Day money back guarantee!", "subscribe"),
    ("- Cancel anytime.", "subscribe"),
    ("[Subscribe](#)", "subscribe"),
    ("Phototreat/iStock/Getty Images Plus", "credit"),
    (
        "What is your opinion about how the administration of Joe Biden and Kamala Harris is"
        " dealing with the invasion of illegal aliens into the United States? Please share your"
        " thoughts and views by emailing [email\u00a0protected]. Thank you.",
        "opinion",
    ),
    (
        "What is your opinion about how the administration of Joe Biden and Kamala Harris is"
        " dealing with the invasion of illegal aliens into the United States?",
        "opinion",
    ),
    ("Please share your thoughts and views by emailing [email\u00a0protected].", "opinion"),
    ("Thank you.", "opinion"),
    ("[email protected]", "obfuscated"),
    ("[email\u00a0protected]", "obfuscated"),
]


@pytest.mark.parametrize(("text", "expected"), SEED_FURNITURE)
def test_seed_furniture_matches(text: str, expected: str) -> None:
    assert category(text) == expected


def test_hit_names_the_entry_and_language() -> None:
    assert match("Share Selection") == Hit("widget", "share selection", "en")
    assert match("**Δ**") == Hit("widget", "Δ", "en")
    assert match("- 24 Issues Per Year") == Hit("subscribe", "<n> issues per year", "en")


def test_sample_articles_match_only_their_furniture() -> None:
    """Every non-blank line of the five samples: exactly the furniture lines match."""
    expected = {
        "Submit",
        "Δ",
        "Thanks for contacting us. We've received your submission.",
        "Share Selection",
        "Phototreat/iStock/Getty Images Plus",
        "[Click here](#) to learn more about the invasion of illegal aliens, and how to take action.",
        "Subscribe to the New American",
        "What's Included?",
        "- 24 Issues Per Year",
        "- Optional Print Edition",
        "- Digital Edition Access",
        "- Exclusive Subscriber Content",
        "- Audio provided for all articles",
        "- Unlimited access to past issues",
        "- Coming Soon! Ad FREE",
        "- 60-Day money back guarantee!",
        "- Cancel anytime.",
        "[Subscribe](#)",
    }
    matched: set[str] = set()
    for path in sorted(SAMPLES.glob("*.txt")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip() and match(line):
                matched.add(line.strip())
    prefixes = ("Get exclusive digital access", "What is your opinion about")
    extra = {m for m in matched - expected if not m.startswith(prefixes)}
    assert extra == set()
    assert expected <= matched


def test_sample_sentences_do_not_match_outside_the_furniture() -> None:
    """Sentences of the body text (split crudely) never match, byline or furniture aside."""
    furniture_files = {"001", "002", "003"}
    for path in sorted(SAMPLES.glob("*.txt")):
        lines = path.read_text("utf-8").splitlines()
        if path.name[:3] in furniture_files:
            lines = [ln for ln in lines if not match(ln)]
        for line in lines:
            for sentence in line.replace("? ", "?\n").replace(". ", ".\n").splitlines():
                if sentence.strip():
                    assert match(sentence) is None, sentence


# --- prose and content that must not match -----------------------------------------------

NOT_FURNITURE = [
    # Content lines and headings from the samples.
    "**Figure 1:** Example charts reflecting sudden rise in illegal immigrant encounters,"
    " particularly during the last year. Graphic Source: [Pew Research Center](#)",
    "**Figure 4:** Overview of a typical route of fentanyl from China through Mexico. Graphic"
    " Source: [Insightcrime.org](https://www.insightcrime.org)",
    "Illegal Aliens",
    "## INTRODUCTION",
    "## WORKS CITED",
    "U.S., Mexico Meet on Joint Actions to Enhance Border Security",
    "Border Patrol Source: 40,000 Illegals Headed This Way",
    "May 11, 2022",
    '- Alper, Alexandra. "Biden administration suspends Trump asylum deals with El Salvador,'
    ' Guatemala, Honduras," *Reuters*, February 6, 2021, accessed at: <https://www.reuters.com/x>',
    '"First drugs, then oil, now Mexican cartels turn to human trafficking". Reuters, April 29,'
    " 2020, accessed at: <https://www.nbcnews.com/news/latino/x>",
    "“The most important thing is that we don’t control the border, the cartel controls the"
    " border,” the agent said.",
    "CNN [reported](#):",
    "The release continued:",
    # Prose that mentions furniture words.
    "Readers can subscribe to the newsletter, the company said.",
    "Subscribers to the service complained about outages on Monday.",
    "He clicked the button.",
    "Click, the payments startup, raised $10 million.",
    "The photo, taken by Getty Images photographer John Moore, shows migrants at the wall.",
    "Getty Images photographers were at the scene when the convoy arrived on Monday morning.",
    "Share prices fell 3 percent on Monday.",
    "Sharing the stage with the governor, the mayor thanked the volunteers.",
    "Print media has struggled for years.",
    "Close to 2,000 migrants arrived each day.",
    "Comments from the governor drew criticism.",
    "Advertisement revenue fell sharply last quarter.",
    "Menu prices at the restaurant rose 12 percent.",
    "Email records show the official knew about the shortfall.",
    "Thank you for your service, the veteran was told.",
    "Reuters reported that the talks had stalled.",
    "Reuters contributed reporting",
    "Sign up for the draft opened in May.",
    "Follow the money, investigators said.",
    "Related charges were filed on Tuesday.",
    "Watchdog groups said the rules were too weak.",
    "Photo: Protesters gather outside the Capitol on Monday",
    "Please share your",
    '"Subscribe to our channel," he urged viewers.',
    "The magazine, which prints 24 issues per year, was sold in March.",
    "Readers may write to [email protected] with tips about the shelters and the buses.",
    "The donation was made in May, the charity said.",
    "Leaving a comment on the post cost him his job.",
    "What is the opinion of the court?",
    "Thanks to the volunteers, the shelter stayed open.",
    "Cookies were served at the reception.",
    "Already a subscriber, she canceled after the price rose.",
    "The Getty Center reopened on Tuesday",
    # Other languages, prose with furniture words.
    "Teilen Sie diese Meinung, fragte der Moderator.",
    "Die Abonnenten der Zeitung erhielten eine Mail.",
    "Partager les richesses est essentiel, a-t-il dit.",
    "Compartir información con las autoridades es obligatorio.",
    "Iscritti al partito sono calati del 10 per cento.",
    "Assinei o contrato ontem, disse ele.",
    "Abonnees van de krant kregen een brief.",
    "Abonnement prices rose.",
]


@pytest.mark.parametrize("text", NOT_FURNITURE)
def test_content_does_not_match(text: str) -> None:
    assert match(text) is None


# --- more English furniture ---------------------------------------------------------------

MORE_FURNITURE = [
    ("Share", "widget"),
    ("**Print**", "widget"),
    ("Email", "widget"),
    ("Tweet", "widget"),
    ("12 Comments", "widget"),
    ("ADVERTISEMENT", "widget"),
    ("Skip to content", "widget"),
    ("Close", "widget"),
    ("Menu", "widget"),
    ("Read More »", "widget"),
    ("Load more", "widget"),
    ("Share | Tweet | Email", "widget"),
    ("Story continues below advertisement", "widget"),
    ("Your message has been sent successfully.", "form"),
    ("This field is required.", "form"),
    ("Sign up for our newsletter", "subscribe"),
    ("Sign up for our daily newsletter to get the latest news.", "subscribe"),
    ("Already a subscriber? Log in", "subscribe"),
    ("Print edition", "subscribe"),
    ("Ad-free", "subscribe"),
    ("Support our journalism", "donate"),
    ("Become a member today", "donate"),
    ("Donate today", "donate"),
    ("Tap here to download the app.", "cta"),
    ("Follow us on Twitter and Facebook", "cta"),
    ("Download our app", "cta"),
    ("READ MORE: Border crisis deepens as shelters fill", "cta"),
    ("Related: Mexico agrees to new checkpoints", "cta"),
    ("Don't miss: the best of the week", "cta"),
    ("AP Photo/Evan Vucci", "credit"),
    ("(AP Photo/Evan Vucci, File)", "credit"),
    ("REUTERS/Kevin Lamarque", "credit"),
    ("John Moore/Getty Images", "credit"),
    ("Photo: John Smith/Reuters", "credit"),
    ("Image credit: Shutterstock", "credit"),
    ("Credit: Mario Tama", "credit"),
    ("Photograph: Alamy", "credit"),
    ("Photo by Jane Doe for The Washington Post", "credit"),
    ("AFP via Getty Images", "credit"),
    ("Let us know in the comments below.", "opinion"),
    ("Leave a comment", "opinion"),
    ("Tips: [email protected]", "obfuscated"),
    ("© 2024 Daily Mail. All rights reserved.", "copyright"),
    ("Copyright 2023 The Associated Press. All rights reserved.", "copyright"),
    (
        "This material may not be published, broadcast, rewritten or redistributed.",
        "copyright",
    ),
    ("We use cookies to give you the best experience on our website.", "legal"),
    ("By continuing to use this site, you agree to our use of cookies.", "legal"),
    ("Privacy Policy", "legal"),
]


@pytest.mark.parametrize(("text", "expected"), MORE_FURNITURE)
def test_english_furniture_matches(text: str, expected: str) -> None:
    assert category(text) == expected


def test_long_paragraph_starting_with_a_prefix_phrase_is_kept() -> None:
    prose = "Click here and there, the app's users complained, " + "and the story went on. " * 30
    assert len(normalize(prose)) > lexicon.MAX_PHRASE_SEGMENT
    assert match(prose) is None
    long_copyright = "All rights reserved. " + "The court heard arguments for days. " * 20
    assert match(long_copyright) is None


def test_credit_must_be_short_and_without_final_period() -> None:
    assert category("Getty Images") == "credit"
    assert match("Getty Images.") is None
    long_line = "Photo: " + " ".join(["Getty"] * 13)
    assert match(long_line) is None


# --- other languages ----------------------------------------------------------------------

LANGUAGE_FURNITURE = [
    ("Teilen", "widget", "de"),
    ("Jetzt abonnieren", "subscribe", "de"),
    ("Newsletter abonnieren", "subscribe", "de"),
    ("© 2024 Zeitung GmbH. Alle Rechte vorbehalten.", "copyright", "de"),
    ("Foto: picture alliance/dpa", "credit", "de"),
    ("Wir verwenden Cookies, um Ihnen das beste Erlebnis zu bieten.", "legal", "de"),
    ("Partager", "widget", "fr"),
    ("Abonnez-vous", "subscribe", "fr"),
    ("Abonnez-vous à notre newsletter !", "subscribe", "fr"),
    ("Tous droits réservés", "copyright", "fr"),
    ("Lire aussi : la frontière sous tension", "cta", "fr"),
    ("Qu'en pensez-vous ?", "opinion", "fr"),
    ("Compartir", "widget", "es"),
    ("Suscríbete", "subscribe", "es"),
    ("¿Ya eres suscriptor? Inicia sesión", "subscribe", "es"),
    ("© 2024 El Diario. Todos los derechos reservados.", "copyright", "es"),
    ("Haz clic aquí para leer más", "cta", "es"),
    ("Condividi", "widget", "it"),
    ("Iscriviti alla newsletter", "subscribe", "it"),
    ("Tutti i diritti riservati", "copyright", "it"),
    ("© RIPRODUZIONE RISERVATA", "copyright", "it"),
    ("Clicca qui per saperne di più", "cta", "it"),
    ("Compartilhar", "widget", "pt"),
    ("Assine já", "subscribe", "pt"),
    ("Todos os direitos reservados.", "copyright", "pt"),
    ("Clique aqui para ver o vídeo", "cta", "pt"),
    ("Delen", "widget", "nl"),
    ("Abonneer nu", "subscribe", "nl"),
    ("Alle rechten voorbehouden", "copyright", "nl"),
    ("Lees ook: kabinet valt", "cta", "nl"),
]


@pytest.mark.parametrize(("text", "expected", "lang"), LANGUAGE_FURNITURE)
def test_other_languages(text: str, expected: str, lang: str) -> None:
    hit = match(text)
    assert hit is not None, text
    assert (hit.category, hit.lang) == (expected, lang)


def test_every_language_has_three_positive_cases() -> None:
    counts = Counter(lang for _, _, lang in LANGUAGE_FURNITURE)
    counts["en"] = len(MORE_FURNITURE)
    assert all(counts[lang] >= 3 for lang in LANGUAGES)


# --- pitch openers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Subscribe to the New American",
        "Sign up for our newsletter",
        "Support our journalism",
        "Become a member",
        "Donate today",
        "Jetzt abonnieren",
        "Abonnez-vous",
    ],
)
def test_pitch_openers(text: str) -> None:
    assert pitch_opener(text)


@pytest.mark.parametrize(
    "text",
    [
        "[Subscribe](#)",
        "- Cancel anytime.",
        "Share Selection",
        "Readers can subscribe to the newsletter, the company said.",
        "Subscribe to " + "the best news " * 10,
        "U.S., Mexico Meet on Joint Actions to Enhance Border Security",
    ],
)
def test_not_pitch_openers(text: str) -> None:
    assert not pitch_opener(text)


# --- bylines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Written by [David Kelly](#) on September 25, 2023",
        "Written by David Kelly on September 25, 2023.",
        "By: Alex Zemek",
        "By Jane Doe",
        "BY JANE DOE",
        "By Jane Doe and John Roe | Reuters",
        "By Jane Doe, Staff Writer",
        "By [jane doe](https://example.com/jane)",
        "By The Associated Press",
        "Par Le Monde",
        "Por El País y Reuters",
        "By Alex Zemek, Ph.D.",
        "**By** Maria de la Cruz",
        "Von Anna Müller",
        "Von Ursula von der Leyen und Olaf Scholz",
        "Par Jean Dupont",
        "Por María García",
        "Por Ana Souza e João Silva",
        "Door Jan de Vries",
    ],
)
def test_bylines(text: str) -> None:
    assert byline(text)


@pytest.mark.parametrize(
    "text",
    [
        "By the end of 2021, overdose deaths topped 100,000.",
        "By the end of the year, the shelter was full",
        "By Monday, shelters were full.",
        "By December shelters were full",
        "By contrast, the city of El Paso has opened three shelters",
        "Bystanders filmed the scene",
        "By 2021 overdose deaths topped 100,000",
        "Par ailleurs, le gouvernement a annoncé de nouvelles mesures",
        "Por eso, el gobierno cerró la frontera",
        "Von Berlin nach Rom",
        "Paris Hilton arrived",
        "By Jane Doe, who covers the border for the paper and has reported from El Paso since 2015",
        "Illegal Aliens",
        "By The",
        "By The end of the war",
        "",
    ],
)
def test_not_bylines(text: str) -> None:
    assert not byline(text)


# --- datelines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("( – Convoys of tens of thousands of illegal aliens have gathered", 4),
        ("() — Foo said on Monday", 5),
        ("( ) - Foo said on Monday", 6),
        ("(--) Foo", 0),
        ("( –", 3),
        ("WASHINGTON (AP) — The Senate voted on Tuesday", 0),
        ("(AP) — The Senate voted on Tuesday", 0),
        ("(-5 degrees) was the low", 0),
        ("Convoys of tens of thousands", 0),
        ("– Convoys", 0),
        ("", 0),
    ],
)
def test_dateline_prefix(text: str, expected: int) -> None:
    assert dateline_prefix(text) == expected


def test_dateline_prefix_cuts_exactly_the_broken_part() -> None:
    text = "( – Convoys of tens of thousands"
    assert text[dateline_prefix(text) :] == "Convoys of tens of thousands"


# --- attributions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WASHINGTON (AP) — The Senate voted on Tuesday.", ("Associated Press",)),
        ("The Associated Press first reported the deal.", ("Associated Press",)),
        ("The talks stalled, according to Reuters.", ("Reuters",)),
        ("AFP reported that the convoy had left Tapachula.", ("AFP",)),
        ("The Agence France-Presse count was higher.", ("AFP",)),
        ("Das berichtete die dpa am Montag.", ("dpa",)),
        ("UPI said the figures were preliminary.", ("UPI",)),
        ("The bank cut rates, Bloomberg News reported.", ("Bloomberg",)),
        ("Michael Bloomberg said he would not run.", ()),
        ("The agency said so according to a press release.", ("press release",)),
        ("CBP said in a statement that arrests rose.", ("press release",)),
        ("In a press release, CBP said arrests rose.", ("press release",)),
        ("“This is a crisis,” Almonte told The Post.", ("The Post",)),
        ("He told Fox News Digital that the border was open.", ("Fox News Digital",)),
        ("She told the New York Times on Monday.", ("The New York Times",)),
        ("The official told Voice of America that talks continue.", ("Voice of America",)),
        ("The agent told News Nation, Reuters reported.", ("News Nation", "Reuters")),
        ("He told me that we'd better get ready.", ()),
        ("Officials told reporters the shelter was full.", ()),
        ("He told President Biden the plan would fail.", ()),
        ("No source is named here.", ()),
    ],
)
def test_attributions(text: str, expected: tuple[str, ...]) -> None:
    assert attributions(text) == expected


def test_attributions_are_sorted_and_unique() -> None:
    text = "Reuters and AFP said, citing (AP) and Reuters; he told CNN and told CNN again."
    assert attributions(text) == ("AFP", "Associated Press", "CNN", "Reuters")


# --- linear time ---------------------------------------------------------------------------

BIG_INPUTS = [
    "a" * 1_000_000,
    "." * 100_000,
    "told " * 200_000,
    "[" * 200_000,
    "[a](" * 100_000,
    "By " * 200_000,
    "( " * 200_000,
    "(AP) " * 100_000,
    "click here " * 100_000,
    "a" * 300 + " all rights reserved",
]


@pytest.mark.parametrize("text", BIG_INPUTS, ids=lambda t: f"{t[:8]!r}x{len(t)}")
def test_big_inputs_return(text: str) -> None:
    """Linear-time on inputs that break backtracking regexes: every call returns a result."""
    assert match(text) is None or len(text) <= lexicon.MAX_RAW
    assert byline(text) is False
    assert pitch_opener(text) is False or len(text) <= lexicon.MAX_RAW
    assert 0 <= dateline_prefix(text) <= len(text)
    assert isinstance(attributions(text), tuple)
    assert isinstance(normalize(text), str)


# --- data files ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_data_file_parses(lang: str) -> None:
    text = lexicon.read_data(lang)
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for row in rows:
        cols = row.split("\t")
        assert len(cols) == 3, row
        assert cols[0] in CATEGORIES, row
        assert cols[1] in MODES, row
        assert cols[2] == cols[2].strip() and cols[2], row
    entries = list(lexicon.parse(text.splitlines(), lang))
    assert len(entries) == len(rows)
    keys = Counter((e.mode, e.key) for e in entries)
    assert [k for k, n in keys.items() if n > 1] == []
    lines = Counter(rows)
    assert [r for r, n in lines.items() if n > 1] == []
    low, high = (40, 130) if lang == "en" else (15, 45)
    assert low <= len(rows) <= high


def test_every_category_is_used() -> None:
    used = {e.category for e in lexicon.entries()}
    assert used == CATEGORIES


def test_bad_data_lines_raise() -> None:
    for bad in ["widget\texact", "nonsense\texact\tx", "widget\tregex\tx", "widget\texact\t..."]:
        with pytest.raises(lexicon.LexiconDataError):
            list(lexicon.parse([bad], "xx"))
    assert list(lexicon.parse(["# comment", "", "widget\texact\tshare"], "xx"))[0].key == "share"


def test_normalize() -> None:
    assert normalize("  - **[Subscribe](#)** !  ") == "subscribe"
    assert normalize("## Ad-FREE…") == "ad free"
    assert normalize("Photo : AFP") == "photo: afp"
    assert normalize("- 24 Issues Per Year") == "<n> issues per year"
    assert normalize("Δ") == normalize("∆")


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    hit = match(text)
    assert hit is None or hit.category in CATEGORIES
    assert 0 <= dateline_prefix(text) <= len(text)
    byline(text)
    pitch_opener(text)
    assert list(attributions(text)) == sorted(set(attributions(text)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Share",
                "[Subscribe](#)",
                "By",
                "( –",
                "told",
                "The",
                "Post",
                "©",
                " ",
                "\t",
                "-",
                "Δ",
                ".",
                "**",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_never_raises_on_furniture_fragments(text: str) -> None:
    match(text)
    assert 0 <= dateline_prefix(text) <= len(text)
    byline(text)
    attributions(text)
