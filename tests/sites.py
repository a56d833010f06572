"""Synthetic news pages for the HTML, WARC and Scrapy tests: two outlets, page furniture that
an extractor keeps, a wire story both outlets run, and an item repeated word for word."""

from __future__ import annotations

import html
import io

#: A closing paragraph inside every article body of outlet A: extractors keep it, recurrence
#: across the outlet's pages must remove it.
FURNITURE = (
    "Reporting for this section is coordinated from our offices on Harbour Street in Millbrook,"
    " where the desk is staffed until midnight."
)

STORIES: dict[str, tuple[str, list[str]]] = {
    "river": (
        "River floods the lower town",
        [
            "The river broke its banks on Tuesday night and flooded forty houses in the lower town.",
            "Volunteers filled sandbags at the fire station until the water began to recede at dawn.",
            "The mayor said the council would ask the regional government for emergency funds.",
        ],
    ),
    "bridge": (
        "New bridge opens to traffic",
        [
            "A new bridge over the railway opened on Monday after three years of construction work.",
            "Commuters from the northern suburbs will save about twenty minutes on each journey.",
            "The project cost less than planned because steel prices fell during the second year.",
        ],
    ),
    "school": (
        "Schools to start an hour later",
        [
            "Secondary schools in the district will start an hour later from the autumn term.",
            "The board voted for the change after a study on teenage sleep and attendance rates.",
            "Parents' groups welcomed the decision but asked for later bus timetables as well.",
        ],
    ),
    "market": (
        "Farmers market moves to the square",
        [
            "The weekly farmers market will move from the car park to the old market square.",
            "Stallholders said the square gets more passing trade from shoppers and tourists.",
            "The first market in the new place will be held on the second Saturday of June.",
        ],
    ),
    "wire": (
        "Port strike enters its third day",
        [
            "Dock workers at the northern port stayed off the job for a third day on Wednesday,"
            " leaving more than sixty container ships waiting offshore.",
            "The union said talks with the port authority had broken down over pension"
            " contributions and night shift pay.",
            "Shipping companies warned that supermarket deliveries could be delayed by the end of"
            " the week if the dispute is not settled.",
        ],
    ),
    "library": (
        "Library extends opening hours",
        [
            "The central library will open until nine in the evening on weekdays from next month.",
            "Staff said students had asked for a quiet place to work after the colleges close.",
        ],
    ),
}


#: The credit line an outlet adds to a syndicated story.
CREDIT = "Distributed by Northern Wire."


def page(
    outlet: str,
    slug: str,
    *,
    date: str = "2024-05-01",
    furniture: bool = True,
    site_name: str | None = None,
    canonical: bool = True,
    pull_quote: bool = False,
    credit: str | None = None,
) -> str:
    """One article page of ``outlet`` (a host name) for story ``slug``, with navigation and a
    footer an extractor drops, optionally the in-article furniture it keeps, and optionally
    the first paragraph repeated as a pull quote, and an agency credit at the end."""
    title, paragraphs = STORIES[slug]
    if pull_quote:
        paragraphs = [paragraphs[0], paragraphs[1], paragraphs[0], *paragraphs[2:]]
    if credit:
        paragraphs = [*paragraphs, credit]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if furniture:
        body += f"\n<p>{html.escape(FURNITURE)}</p>"
    name = site_name or outlet.split(".")[0].title() + " News"
    link = f'<link rel="canonical" href="https://{outlet}/news/{slug}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {html.escape(name)}</title>
{link}
<meta property="og:site_name" content="{html.escape(name)}">
<meta property="article:published_time" content="{date}T08:00:00+00:00">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<main><article>
<h1>{html.escape(title)}</h1>
{body}
</article></main>
<footer><p>Copyright 2024 {html.escape(name)}. All rights reserved.</p></footer>
</body></html>
"""


def warc(records: list[tuple[str, str, bytes, str, str]], *, gzip: bool = True) -> bytes:
    """A WARC built in memory with warcio; each record is (type, URI, body, content type,
    HTTP status). Request records get a bare GET; other types keep the body as is."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip)
    for rec_type, uri, body, ctype, status in records:
        if rec_type == "response":
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), http_headers=headers
            )
        elif rec_type == "request":
            headers = StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")], is_http_request=True)
            rec = writer.create_warc_record(
                uri, "request", payload=io.BytesIO(b""), http_headers=headers
            )
        else:
            rec = writer.create_warc_record(
                uri, rec_type, payload=io.BytesIO(body), warc_content_type=ctype
            )
        writer.write_record(rec)
    return buf.getvalue()
