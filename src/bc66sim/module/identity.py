"""Who the module is: its model (BC66 or BC66-NA), firmware and the SIM's identity.

The two models answer the same commands; what a host can see differ is the model
name (``ATI``, ``AT+CGMM``), the firmware revision (``AT+CGMR``, ``AT+QGMR``) and the
LTE bands the radio supports (``AT+QBAND=?``), as the modules' specifications list
them.  Everything else about identity is derived from one IMSI, so the values stay
consistent with each other: the ICCID carries the IMSI's home network (MCC, MNC)
and its subscriber number, with a valid Luhn check digit, as a real SIM's does.
"""

from __future__ import annotations

from dataclasses import dataclass

MANUFACTURER = "Quectel_Ltd"


@dataclass(frozen=True, slots=True)
class Model:
    """What differs between the models, as a host sees it over AT."""

    name: str
    #: ``AT+CGMM`` and the second line of ``ATI``.
    model_id: str
    #: ``AT+CGMR`` (after ``Revision: ``) and the third line of ``ATI``.
    revision: str
    #: ``AT+QGMR``: the revision and the build of the application firmware.
    full_revision: str
    #: LTE bands of the radio (``AT+QBAND=?``), from the module's specification.
    bands: tuple[int, ...]
    #: The bands searched after a factory reset (``AT+QBAND?``).
    default_bands: tuple[int, ...]


BC66 = Model(
    name="BC66",
    model_id="Quectel_BC66",
    revision="BC66NBR01A10",
    full_revision="BC66NBR01A10_01.002.01.002",
    bands=(1, 2, 3, 4, 5, 8, 12, 13, 17, 18, 19, 20, 25, 28, 66, 70, 85),
    default_bands=(1, 2, 3, 4, 5, 8, 12, 13, 17, 18, 19, 20),
)

#: The North American variant: its bands are the ones its specification lists.
BC66_NA = Model(
    name="BC66-NA",
    model_id="Quectel_BC66NA",
    revision="BC66NADAR01A01",
    full_revision="BC66NADAR01A01_01.001.01.001",
    bands=(2, 4, 5, 12, 13, 25, 26, 66, 71, 85),
    default_bands=(2, 4, 5, 12, 13, 25, 26, 66, 71, 85),
)

MODELS = {model.name: model for model in (BC66, BC66_NA)}


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of ``digits`` (ISO/IEC 7812-1, as ICCIDs and IMEIs use)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # every second digit from the right, starting at the last
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdecimal() and number.isascii() and luhn_digit(number[:-1]) == number[-1]


def iccid_for(imsi: str) -> str:
    """A 20-digit ICCID (ITU-T E.118) of the SIM that holds ``imsi``.

    ``89`` (telecommunications), the home network's MCC and MNC, the subscriber
    number (MSIN), zero padding to 19 digits and the Luhn check digit.
    """
    mcc, mnc, msin = imsi[:3], imsi[3:5], imsi[5:]
    body = ("89" + mcc + mnc + msin).ljust(19, "0")[:19]
    return body + luhn_digit(body)


def numbered_imei(imei: str, index: int) -> str:
    """The ``index``-th IMEI after ``imei``: the next serial numbers, a new check digit."""
    body = str(int(imei[:14]) + index).zfill(14)[-14:]
    return body + luhn_digit(body)


def numbered_imsi(imsi: str, index: int) -> str:
    """The ``index``-th subscriber of ``imsi``'s home network (the MSIN counts up)."""
    home, msin = imsi[:5], imsi[5:]
    return home + str(int(msin) + index).zfill(len(msin))[-len(msin) :]
