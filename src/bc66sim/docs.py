"""docs/COMMANDS.md, generated from the command table so that it cannot drift.

``python -m bc66sim.docs > docs/COMMANDS.md`` (``make docs``) writes it; a test
checks that the file in the repository is what this renders.
"""

from __future__ import annotations

from bc66sim.at.parser import Form
from bc66sim.module.commands import Spec, Support
from bc66sim.module.identity import MODELS
from bc66sim.module.modem import TABLE

#: Commands of other Quectel modules that a BC66 does not have: it answers ERROR.
NOT_ON_BC66 = (
    ("AT+QLEDMODE", "BC660K, BC95"),
    ("AT+QSCLKEX", "BC660K"),
    ("AT+QPSMS", "BC660K"),
    ("AT+QICSGP", "BC25, BG96"),
    ("AT+QNWINFO", "BG96, EC2x"),
    ("AT+QCSQ", "BG96, EC2x"),
    ("AT+QURCCFG", "BG96, EC2x"),
    ("AT+QSOC", "early BC66 betas, BC26"),
    ("AT+QENGINFO", "BC26"),
    ("AT+NBAND", "BC95"),
)

_FORMS = {Form.TEST: "=?", Form.READ: "?", Form.WRITE: "=", Form.EXECUTE: "exec"}
_BASIC_FORMS = {Form.WRITE: "`<n>`", Form.EXECUTE: "exec"}


def _row(spec: Spec) -> str:
    names = _FORMS if spec.extended else _BASIC_FORMS
    forms = " ".join(names[form] for form in spec.forms())
    return f"| `{spec.at_name}` | {forms} | {spec.section} | {spec.support.value} | {spec.notes} |"


def render_commands() -> str:
    """The whole of docs/COMMANDS.md."""
    specs = list(TABLE)
    counts = {support: sum(spec.support is support for spec in specs) for support in Support}
    lines = [
        "# Commands",
        "",
        "Every AT command the emulated module answers, where it is specified and what",
        "the emulator does of it. Generated from the command table",
        "(`python -m bc66sim.docs > docs/COMMANDS.md`, or `make docs`); a test checks",
        "that this file is current.",
        "",
        "- **Specified in**: *TCP/IP note §* is the *BC66&BC66-NA TCP/IP Application",
        "  Note*; *Manual ch.* is a chapter of the *BC66&BC66-NA AT Commands Manual*",
        "  (3GPP TS 27.007 and ITU-T V.250 where the manual follows them).",
        "- **Emulator**:",
        f"  - *{Support.FULL.value}* ({counts[Support.FULL]} commands): what the module does, "
        "against the real network where it has one;",
        f"  - *{Support.SETTINGS.value}* ({counts[Support.SETTINGS]}): the settings are checked, "
        "kept, shown and saved as the manual says; what they control in the radio is not "
        "emulated (yet);",
        f"  - *{Support.NOT_APPLICABLE.value}* ({counts[Support.NOT_APPLICABLE]}): answered as "
        "the module does, with nothing behind it in an emulator.",
        "- **Forms**: `=?` test, `?` read, `=` write, `exec` execute; a basic command",
        "  (V.250: `ATE`, `AT&W`) takes a number, `<n>`. Any other form answers `ERROR`.",
        "",
        "| Command | Forms | Specified in | Emulator | Notes |",
        "| --- | --- | --- | --- | --- |",
        *(_row(spec) for spec in specs),
        "",
        "## Models",
        "",
        "`bc66sim serve --model NAME` (default `BC66`) chooses what differs between the",
        "two modules as a host sees it:",
        "",
        "| Model | `AT+CGMM` | `AT+CGMR` | `AT+QGMR` | Bands (`AT+QBAND=?`) |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {m.name} | `{m.model_id}` | `Revision: {m.revision}` | `{m.full_revision}` "
            f"| {', '.join(str(band) for band in m.bands)} |"
            for m in MODELS.values()
        ),
        "",
        "## Not BC66 commands",
        "",
        "These belong to other Quectel modules; a BC66 answers `ERROR`, and so does the",
        "emulator (as it does for any command not in the table above).",
        "",
        "| Command | Module |",
        "| --- | --- |",
        *(f"| `{name}` | {where} |" for name, where in NOT_ON_BC66),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_commands(), end="")
