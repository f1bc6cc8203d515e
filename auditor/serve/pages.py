"""Rendering the served pages: the shared autoescaping templates, this style and script, and their policy.

Every page is a template under reports/templates/ rendered with autoescape;
the only code a browser runs is the page's own inline style and script,
admitted by hash in the Content-Security-Policy header (forms may post only
back to this server). The script only adds keyboard shortcuts: every page
works without it.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from auditor.report.pages import csp_hash, environment

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;line-height:1.4}
header,main,footer{max-width:72rem;margin:0 auto;padding:.75rem 1.5rem}
header{display:flex;gap:1rem;align-items:center;justify-content:space-between;border-bottom:1px solid #d0d5dd}
h1{font-size:1.45rem}h2{font-size:1.15rem;margin-top:1.75rem}h3{font-size:1rem;margin:.2rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d5dd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}
.item{border:1px solid #d0d5dd;border-radius:.4rem;padding:.6rem .9rem;margin:.6rem 0}
.item:focus,.item:focus-within{outline:3px solid #2e5aac;outline-offset:2px}
.item.decided{background:#f6fef9}
dl{display:grid;grid-template-columns:11rem 1fr;gap:.15rem .8rem;margin:.4rem 0;font-size:.9rem}
dt{font-weight:600}dd{margin:0}
fieldset{border:1px solid #d0d5dd;margin:.4rem 0;padding:.3rem .7rem}
label{margin-right:.8rem}
textarea,input[type=email],input[type=text],select{font:inherit;padding:.25rem;border:1px solid #667085;border-radius:.2rem}
textarea{width:100%;max-width:40rem;min-height:2.2rem;display:block}
button{font:inherit;padding:.3rem .9rem;border:1px solid #1d3f7a;background:#2e5aac;color:#fff;border-radius:.25rem;cursor:pointer}
button.secondary{background:#fff;color:#1d3f7a}
.flag{color:#b42318;font-weight:600}.muted{color:#555d6b}.ok{color:#067647;font-weight:600}
.badge{display:inline-block;border:1px solid #b42318;color:#b42318;border-radius:.2rem;padding:0 .3rem;font-size:.8rem}
.notice{background:#eff8ff;border:1px solid #84adff;padding:.5rem 1rem}
.error{background:#fef3f2;border:1px solid #b42318;padding:.5rem 1rem}
.warn{background:#fffaeb;border:1px solid #b54708;padding:.5rem 1rem}
progress{width:16rem;height:1rem;vertical-align:middle}
.inline{display:inline}
""".strip()

# Keyboard navigation: j / k move between items, x selects the current one for a bulk decision.
SCRIPT = """
(function(){var items=Array.prototype.slice.call(document.querySelectorAll('.item'));if(!items.length)return;
var at=-1;function go(n){at=Math.max(0,Math.min(items.length-1,n));items[at].focus();items[at].scrollIntoView({block:'nearest'});}
document.addEventListener('keydown',function(e){var t=e.target.tagName;if(t==='INPUT'||t==='TEXTAREA'||t==='SELECT'||e.altKey||e.ctrlKey||e.metaKey)return;
if(e.key==='j'){go(at+1);e.preventDefault();}else if(e.key==='k'){go(at-1);e.preventDefault();}
else if(e.key==='x'&&at>=0){var c=items[at].querySelector('input[form=bulk]');if(c){c.checked=!c.checked;}e.preventDefault();}});})();
""".strip()


def content_security_policy(*, header: bool = True) -> str:
    """Nothing from the network; this page's own style and script by hash; forms post only to this server.

    The header also forbids framing (frame-ancestors, which a page's own meta element cannot carry).
    """
    policy = f"default-src 'none'; base-uri 'none'; form-action 'self'; script-src {csp_hash(SCRIPT)}; style-src {csp_hash(STYLE)}"
    return policy + "; frame-ancestors 'none'" if header else policy


PAGE_DEFAULTS = {"error": None, "notice": None, "session": None, "signin_token": None, "oidc": False}


def render(template: str, **context: Any) -> str:
    return (
        environment()
        .get_template(template)
        .render(
            {**PAGE_DEFAULTS, **context},
            style=Markup(STYLE),
            script=Markup(SCRIPT),
            csp=content_security_policy(header=False),
        )
    )
