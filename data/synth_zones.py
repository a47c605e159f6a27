"""NYC taxi zones for the synthetic generator: borough of each zone and pickup popularity.

Derived once from the TLC zone table (``taxi_zone_lookup.csv``, 265 zones; 264/265 are
"Unknown"/"Outside of NYC" and never generated) and from the zone counts of a real 2023 yellow
sample. Embedded as constants so that generation never reads external files.
"""

from __future__ import annotations

import numpy as np

#: Borough code of zone ``i + 1`` (E=EWR, Q=Queens, X=Bronx, M=Manhattan, S=Staten Island,
#: K=Brooklyn, U=Unknown).
BOROUGH_CODES = (
    "EQXMSSQQQQKMMKQQKXQXKKSMKKQQKQXXKKKKKQKKMMMSMXXMKMXKQKKQQXXXKKKQKKKMXQKKQMMKKXMKXQQSKQMMKM"
    "KQQXQQKQSMQQMMMKMKSSKKMMSMQSXMQQKQMXMMQQQQKQQXMQQMMMMMQQXMKKMMMKKSQMXQMMMMKMXXXMQSQXQSKKQQ"
    "KXXXXMSKKKQQQMKQQQXXQMQSQSQXMKMXXSQQKQQXSKQMKQKKMMMMMMXMMMMXXXMMSMXXMXSQQXKKKQXQMMMUU"
)
N_ZONES = len(BOROUGH_CODES)
assert N_ZONES == 265

EWR, JFK, LGA = 1, 132, 138
AIRPORTS = (EWR, JFK, LGA)

#: Manhattan zones north of 96th Street: trips that stay there pay no congestion surcharge.
MANHATTAN_NORTH_OF_96TH = (
    24, 41, 42, 74, 75, 116, 120, 127, 128, 151, 152, 153, 166, 194, 243, 244,
)

#: Relative popularity (pickups + dropoffs) of Manhattan zones in real 2023 yellow trips.
MANHATTAN_WEIGHTS: dict[int, float] = {
    4: 17, 12: 2, 13: 26, 24: 14, 41: 22, 42: 16, 43: 78, 45: 8, 48: 189, 50: 50, 68: 160,
    74: 24, 75: 56, 79: 168, 87: 35, 88: 15, 90: 85, 100: 114, 103: 0.5, 104: 0.2, 105: 0.2,
    107: 118, 113: 72, 114: 64, 116: 15, 120: 1, 125: 19, 127: 5, 128: 1, 137: 71, 140: 139,
    141: 133, 142: 144, 143: 75, 144: 51, 148: 69, 151: 61, 152: 8, 153: 1, 158: 49, 161: 227,
    162: 164, 163: 130, 164: 127, 166: 50, 170: 173, 186: 180, 194: 1, 202: 5, 209: 15, 211: 59,
    224: 14, 229: 130, 230: 187, 231: 94, 232: 18, 233: 85, 234: 116, 236: 238, 237: 225,
    238: 115, 239: 139, 243: 13, 244: 17, 246: 94, 249: 128, 261: 20, 262: 101, 263: 129,
}

#: Outer-borough zones that see more yellow trips than the rest of their borough.
OUTER_WEIGHTS: dict[int, float] = {
    33: 12, 181: 12, 255: 11, 61: 10, 256: 10, 97: 9, 112: 9, 80: 8, 17: 7, 25: 6, 37: 6, 14: 5,
    40: 5, 49: 5, 52: 4, 71: 4, 89: 4, 188: 4, 189: 4, 257: 4, 62: 3, 65: 3, 66: 3,
    70: 16, 7: 15, 226: 13, 145: 10, 82: 8, 129: 7, 10: 6, 93: 6, 223: 6, 95: 5, 146: 5, 179: 5,
    193: 5, 196: 5, 260: 5, 216: 4, 83: 3, 130: 3, 139: 3, 198: 3, 168: 3,
}
_OTHER_ZONE_WEIGHT = {"K": 1.0, "Q": 1.0, "X": 1.0, "S": 0.1}


def borough_of(zone_ids: np.ndarray) -> np.ndarray:
    """Borough code (one character) of each zone id (1..265)."""
    codes = np.frombuffer(BOROUGH_CODES.encode("ascii"), dtype="S1")
    return codes[np.asarray(zone_ids, dtype=np.int64) - 1]


def group_zones(group: str) -> tuple[np.ndarray, np.ndarray]:
    """Zone ids and sampling weights of a zone group.

    Groups: ``M`` Manhattan, ``K`` Brooklyn, ``Q`` Queens without the airports, ``X`` Bronx,
    ``S`` Staten Island, ``JFK``, ``LGA``, ``EWR``.
    """
    if group in ("JFK", "LGA", "EWR"):
        zone = {"JFK": JFK, "LGA": LGA, "EWR": EWR}[group]
        return np.array([zone]), np.array([1.0])
    ids = [z for z in range(1, N_ZONES - 1) if BOROUGH_CODES[z - 1] == group and z not in AIRPORTS]
    if group == "M":
        weights = [MANHATTAN_WEIGHTS.get(z, 1.0) for z in ids]
    else:
        weights = [OUTER_WEIGHTS.get(z, _OTHER_ZONE_WEIGHT[group]) for z in ids]
    return np.array(ids), np.array(weights, dtype=np.float64)


def congestion_zone_mask(zone_ids: np.ndarray) -> np.ndarray:
    """True for zones of Manhattan south of 96th Street (congestion surcharge area)."""
    zone_ids = np.asarray(zone_ids)
    manhattan = borough_of(zone_ids) == b"M"
    return manhattan & ~np.isin(zone_ids, MANHATTAN_NORTH_OF_96TH)
