"""A corpus of realistic, messy tables and texts, made here so that no download is needed.

Each item imitates a public data set as it is published: its file name, columns, id and
free-text name columns, missing-value markers, imbalance and duplicates. Each has a few
hundred to ~1,500 rows so that a whole `dvc repro` on it stays cheap. Generators are seeded:
an item writes the same bytes every time.
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Item:
    name: str
    file: str  # the published file name
    make: Callable[[np.random.Generator], pd.DataFrame]
    seed: int
    # params.yaml keys (dotted) a user sets for this file, besides collect.table.path / collect.text.path.
    params: dict
    # Keys other changes are adding to params.yaml: set only where params.yaml already has them.
    pending: dict = field(default_factory=dict)
    # DataFrame.to_csv keywords that reproduce the published format (missing-value marker, quoting, index).
    csv: dict = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        return self.params["task.dataset"]

    def frame(self) -> pd.DataFrame:
        return self.make(np.random.default_rng(self.seed))

    def write(self, folder: Path) -> Path:
        path = Path(folder) / self.file
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(path, **{"index": False, "lineterminator": "\n", **self.csv})
        return path


def _blank(values: np.ndarray, share: float, rng) -> np.ndarray:
    values = values.astype(object)
    values[rng.random(len(values)) < share] = None
    return values


def _pick(rng, choices: dict, n: int) -> np.ndarray:
    """n draws from {value: probability}."""
    probabilities = np.array(list(choices.values()), dtype=float)
    return rng.choice(np.array(list(choices), dtype=object), size=n, p=probabilities / probabilities.sum())


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- 1. titanic-like (Kaggle's titanic/train.csv, plus a few columns real exports carry) -----------------

SURNAMES = ["Braund", "Cumings", "Heikkinen", "Futrelle", "Allen", "Moran", "McCarthy", "Palsson", "Johnson",
            "Nasser", "Sandstrom", "Bonnell", "Saundercock", "Andersson", "Vestrom", "Hewlett", "Rice", "Williams",
            "Vander Planke", "Masselmani", "Fynney", "Beesley", "McGowan", "Sloper", "Asplund", "Emir", "Fortune",
            "O'Dwyer", "Todoroff", "Uruchurtu", "Spencer", "Glynn", "Wheadon", "Meyer", "Holverson", "Mamee",
            "Cann", "Nicola-Yarred", "Ahlin", "Turpin", "Kraeff", "Laroche", "Devaney", "Rogers", "Lennon",
            "O'Driscoll", "Samaan", "Arnold-Franchi", "Panula", "Nosworthy", "Harper", "Faunthorpe", "Ostby",
            "Woolner", "Rugg", "Novel", "West", "Goodwin", "Sirayanian", "Icard", "Harris", "Skoog", "Stewart",
            "Moubarek", "Nye", "Crease", "Andrew", "Kink", "Jenkin", "Hood", "Chronopoulos", "Bing", "Moen",
            "Staneff", "Moutal", "Caldwell", "Dowdell", "Waelens", "Sheerlinck", "McDermott", "Carrau", "Ilett",
            "Backstrom", "Ford", "Slocovski", "Celotti", "Christmann", "Andreasson", "Chaffee", "Dean", "Coxon",
            "Shorney", "Goldschmidt", "Greenfield", "Doling", "Kantor", "Petranec", "Petroff", "White", "Johansson"]
MALE_NAMES = ["Owen", "Harris", "William", "Henry", "James", "Thomas", "Timothy", "John", "Charles", "Joseph",
              "Edward", "Frederick", "George", "Arthur", "Albert", "Ernest", "Samuel", "Walter", "Alfred", "Richard",
              "Patrick", "Michael", "Lewis", "Karl", "Johan", "Nils", "Anders", "Youssef", "Hanna", "Mansour",
              "Stephen", "Daniel", "Peter", "Robert", "Hugh", "Leonard", "Austin", "Victor", "Emil", "Gustaf"]
FEMALE_NAMES = ["Florence", "Laina", "Lily", "Elisabeth", "Margaret", "Mary", "Anna", "Marguerite", "Augusta",
                "Hulda", "Ellen", "Helen", "Bridget", "Kate", "Alice", "Ada", "Jane", "Emily", "Agnes", "Martha",
                "Ida", "Hilda", "Sophia", "Maria", "Catherine", "Edith", "Nora", "Bertha", "Selma", "Amelia",
                "Elizabeth", "Dorothy", "Mabel", "Rosa", "Ethel", "Sarah", "Annie", "Lucy", "Marion", "Eleanor"]
DECKS = {1: ["A", "B", "C", "D", "E"], 2: ["D", "E", "F"], 3: ["E", "F", "G"]}


def _given(rng, names, count) -> str:
    return " ".join(rng.choice(names, size=count, replace=False))


def _passenger_name(rng, male: bool, age: float, married: bool) -> str:
    surname = rng.choice(SURNAMES)
    if male:
        title = "Master" if age < 13 else ("Mr" if rng.random() < 0.96 else rng.choice(["Dr", "Rev", "Col", "Major"]))
        return f"{surname}, {title}. {_given(rng, MALE_NAMES, rng.integers(1, 4))}"
    if married:  # "Cumings, Mrs. John Bradley (Florence Briggs Thayer)"
        maiden = f"{_given(rng, FEMALE_NAMES, rng.integers(1, 3))} {rng.choice(SURNAMES)}"
        return f"{surname}, Mrs. {_given(rng, MALE_NAMES, rng.integers(1, 3))} ({maiden})"
    return f"{surname}, {'Miss' if rng.random() < 0.97 else 'Mlle'}. {_given(rng, FEMALE_NAMES, rng.integers(1, 3))}"


def _ticket(rng, pclass: int) -> str:
    number = rng.integers(1000, 400000)
    kind = rng.random()
    if pclass == 1 and kind < 0.4:
        return f"PC {rng.integers(17000, 17800)}"
    if kind < 0.12:
        return f"A/5 {rng.integers(1000, 30000)}"
    if kind < 0.2:
        return f"STON/O2. {rng.integers(3100000, 3102000)}"
    if kind < 0.25:
        return f"C.A. {rng.integers(2000, 40000)}"
    return str(number)


def _cabin(rng, pclass: int) -> str:
    cabins = [f"{rng.choice(DECKS[pclass])}{rng.integers(2, 130)}"]
    if pclass == 1 and rng.random() < 0.1:  # "B57 B59 B63 B66": one ticket, several cabins
        cabins += [f"{cabins[0][0]}{int(cabins[0][1:]) + 2 * k}" for k in range(1, rng.integers(2, 4))]
    return " ".join(cabins)


def titanic(rng, n: int = 891) -> pd.DataFrame:
    pclass = rng.choice([1, 2, 3], size=n, p=[0.24, 0.21, 0.55])
    male = rng.random(n) < 0.65
    child = rng.random(n) < 0.08
    age = np.where(child, rng.uniform(0.42, 14, n), np.clip(rng.normal(31 - 4 * (pclass - 1), 12, n), 15, 80))
    age = np.where(age < 1, np.round(age, 2), np.round(age * 2) / 2)  # infants 0.83, estimated ages 28.5
    married = ~male & (age >= 18) & (rng.random(n) < 0.55)
    sibsp = rng.choice([0, 1, 2, 3, 4, 5, 8], size=n, p=[0.68, 0.23, 0.03, 0.02, 0.02, 0.01, 0.01])
    parch = rng.choice([0, 1, 2, 3, 4, 5, 6], size=n, p=[0.76, 0.13, 0.085, 0.006, 0.006, 0.006, 0.007])
    fare = np.exp(rng.normal(np.log([1.0, 70.0, 18.0, 9.0])[pclass], 0.45))
    fare = np.round(fare * (1 + 0.3 * (sibsp + parch > 0)), 4)
    fare[rng.random(n) < 0.015] = 0.0  # crew-rate and complimentary tickets
    embarked = _pick(rng, {"S": 0.72, "C": 0.19, "Q": 0.09}, n)
    embarked[rng.choice(n, size=2, replace=False)] = None
    sailing = np.where(embarked == "Q", np.datetime64("1912-04-11"), np.datetime64("1912-04-10"))
    bought = sailing - rng.integers(0, 45, n).astype("timedelta64[D]")
    region_by_class = {1: {"NA": 0.45, "UK": 0.4, "EU": 0.15},  # "NA": North America, a real code
                       2: {"UK": 0.55, "NA": 0.2, "EU": 0.25},
                       3: {"UK": 0.3, "SC": 0.25, "EU": 0.2, "ME": 0.1, "NA": 0.15}}
    region = np.empty(n, dtype=object)
    for level, shares in region_by_class.items():
        region[pclass == level] = _pick(rng, shares, int((pclass == level).sum()))
    alone = sibsp + parch == 0
    party = np.where(alone, np.where(rng.random(n) < 0.12, "Friends", "None"),  # "None": travelling alone
                     np.where((sibsp == 1) & (parch == 0), "Spouse", "Family"))
    logit = -1.5 + 2.6 * ~male - 0.9 * (pclass - 2) - 0.025 * (age - 30) + 1.2 * (age < 10) - 0.3 * (sibsp > 2)
    survived = (rng.random(n) < _sigmoid(logit + rng.normal(0, 0.8, n))).astype(int)
    age_known = rng.random(n) >= np.array([0, 0.12, 0.08, 0.28])[pclass]  # ages were unknown mostly in 3rd class
    cabin_known = rng.random(n) < np.array([0, 0.82, 0.12, 0.03])[pclass]
    return pd.DataFrame({
        "PassengerId": np.arange(1, n + 1),
        "Survived": survived,
        "Pclass": pclass,
        "Name": [_passenger_name(rng, m, a, w) for m, a, w in zip(male, age, married)],
        "Sex": np.where(male, "male", "female"),
        "Age": np.where(age_known, age, np.nan),
        "SibSp": sibsp,
        "Parch": parch,
        "Ticket": [_ticket(rng, level) for level in pclass],
        "Fare": fare,
        "Cabin": [_cabin(rng, level) if known else None for level, known in zip(pclass, cabin_known)],
        "Embarked": embarked,
        "ticket_date": pd.to_datetime(bought).strftime("%Y-%m-%d"),
        "home_region": region,
        "travel_party": party,
        "adult_male": np.where(male & (age >= 16), "True", "False"),
        "ship": "RMS Titanic",
    })


# --- 1b. passengers: few, coarse columns (carData's TitanicSurvival, as Rdatasets publishes it) ---------------

def passengers(rng, n: int = 1309) -> pd.DataFrame:
    """Survival, sex, age in whole years (fractions for infants; 263 unknown) and class, plus a row number: most
    rows are identical to another passenger's, and are different people."""
    passenger_class = rng.choice(["1st", "2nd", "3rd"], size=n, p=[0.25, 0.21, 0.54])
    level = np.array([int(c[0]) for c in passenger_class])
    male = rng.random(n) < 0.64
    age = np.clip(np.round(rng.normal(32 - 5 * (level - 1), 13, n)), 1, 80)
    infants = rng.random(n) < 0.01
    age[infants] = np.round(rng.uniform(0.17, 1, infants.sum()), 4)
    logit = -1.3 + 2.5 * ~male - 0.9 * (level - 2) - 0.02 * (age - 30)
    survived = rng.random(n) < _sigmoid(logit)
    age = np.where(np.isin(np.arange(n), rng.choice(n, size=263, replace=False)), np.nan, age)
    return pd.DataFrame({"rownames": np.arange(1, n + 1), "survived": np.where(survived, "yes", "no"),
                         "sex": np.where(male, "male", "female"), "age": age, "passengerClass": passenger_class})


# --- 2. churn-like (IBM's WA_Fn-UseC_-Telco-Customer-Churn.csv), 1:20 ------------------------------------

def _customer_ids(rng, n: int) -> list:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ids = set()
    while len(ids) < n:  # "7590-VHVEG"
        ids.add(f"{rng.integers(0, 10000):04d}-{''.join(rng.choice(letters, 5))}")
    return rng.permutation(sorted(ids)).tolist()


def churn(rng, n: int = 1200) -> pd.DataFrame:
    tenure = np.clip(np.round(rng.gamma(1.3, 25, n)), 1, 72).astype(int)
    tenure[rng.choice(n, size=4, replace=False)] = 0  # signed up this month: no total charges yet
    contract = _pick(rng, {"Month-to-month": 0.55, "One year": 0.21, "Two year": 0.24}, n)
    internet = _pick(rng, {"DSL": 0.34, "Fiber optic": 0.44, "No": 0.22}, n)
    phone = rng.random(n) < 0.9
    yes_no = lambda share: np.where(rng.random(n) < share, "Yes", "No")  # noqa: E731
    services = {name: np.where(internet == "No", "No internet service", yes_no(share))
                for name, share in (("OnlineSecurity", 0.37), ("OnlineBackup", 0.44), ("DeviceProtection", 0.44),
                                    ("TechSupport", 0.37), ("StreamingTV", 0.49), ("StreamingMovies", 0.5))}
    lines = np.where(phone, yes_no(0.47), "No phone service")
    payment = _pick(rng, {"Electronic check": 0.34, "Mailed check": 0.23, "Bank transfer (automatic)": 0.22,
                          "Credit card (automatic)": 0.21}, n)
    monthly = (20 * phone + 5 * (lines == "Yes")
               + np.select([internet == "DSL", internet == "Fiber optic"], [25, 50], 0)
               + sum(5 * (v == "Yes") for v in services.values()) + rng.normal(0, 2, n))
    monthly = np.round(np.clip(monthly, 18.25, 118.75), 2)
    total = np.where(tenure == 0, " ", [f"{t * m * rng.uniform(0.95, 1.05):.2f}" for t, m in zip(tenure, monthly)])
    score = (1.5 * (contract == "Month-to-month") + 0.8 * (internet == "Fiber optic")
             + 0.6 * (payment == "Electronic check")
             - 0.04 * tenure + 0.5 * (services["TechSupport"] == "No") + rng.gumbel(0, 0.5, n))
    churned = np.zeros(n, dtype=bool)
    churned[np.argsort(-score)[:round(n / 21)]] = True  # one churner for every twenty who stay
    return pd.DataFrame({
        "customerID": _customer_ids(rng, n),
        "gender": _pick(rng, {"Female": 0.5, "Male": 0.5}, n),
        "SeniorCitizen": (rng.random(n) < 0.16).astype(int),
        "Partner": yes_no(0.48), "Dependents": yes_no(0.3), "tenure": tenure,
        "PhoneService": np.where(phone, "Yes", "No"), "MultipleLines": lines, "InternetService": internet,
        **services,
        "Contract": contract, "PaperlessBilling": yes_no(0.59), "PaymentMethod": payment,
        "MonthlyCharges": monthly, "TotalCharges": total,
        "Churn": np.where(churned, "Yes", "No"),
    })


# --- 3. penguins-like (palmerpenguins' penguins.csv, "NA" for missing) -------------------------------------

PENGUINS = {  # species: (count, islands, bill length, bill depth, flipper, body mass) by sex: female, male
    "Adelie": (152, {"Torgersen": 52, "Biscoe": 44, "Dream": 56}, (37.3, 40.4), (17.6, 19.1), (188, 192), (3369, 4043)),
    "Chinstrap": (68, {"Dream": 68}, (46.6, 51.1), (17.6, 19.3), (192, 200), (3527, 3939)),
    "Gentoo": (124, {"Biscoe": 124}, (45.6, 49.5), (14.2, 15.7), (212, 222), (4680, 5485)),
}


def penguins(rng) -> pd.DataFrame:
    parts = []
    for species, (count, islands, bill_length, bill_depth, flipper, mass) in PENGUINS.items():
        male = rng.random(count) < 0.5
        pick = lambda means, sd: np.where(male, means[1], means[0]) + rng.normal(0, sd, count)  # noqa: E731
        parts.append(pd.DataFrame({
            "species": species,
            "island": np.repeat(list(islands), list(islands.values())),
            "bill_length_mm": np.round(pick(bill_length, 2.3), 1),
            "bill_depth_mm": np.round(pick(bill_depth, 0.9), 1),
            "flipper_length_mm": np.round(pick(flipper, 6.0)).astype(int),
            "body_mass_g": (np.round(pick(mass, 330) / 25) * 25).astype(int),
            "sex": np.where(male, "male", "female").astype(object),
            "year": rng.choice([2007, 2008, 2009], size=count),
        }))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["species", "island", "year"], kind="stable").reset_index(drop=True)
    measurements = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    frame[["flipper_length_mm", "body_mass_g"]] = frame[["flipper_length_mm", "body_mass_g"]].astype("Int64")
    unmeasured = rng.choice(len(frame), size=2, replace=False)  # two birds escaped before being measured
    frame.loc[unmeasured, measurements + ["sex"]] = pd.NA
    unsexed = rng.choice(np.setdiff1d(np.arange(len(frame)), unmeasured), size=9, replace=False)
    frame.loc[unsexed, "sex"] = None
    return frame


# --- 4. houses-like regression (Kaggle's house-prices train.csv, "NA" for missing and for "none") ----------

NEIGHBORHOODS = {"NAmes": -0.05, "CollgCr": 0.05, "OldTown": -0.2, "Edwards": -0.2, "Somerst": 0.15, "Gilbert": 0.05,
                 "NridgHt": 0.35, "Sawyer": -0.1, "NWAmes": 0.02, "SawyerW": 0.02, "BrkSide": -0.25, "Crawfor": 0.1,
                 "Mitchel": -0.05, "NoRidge": 0.4, "Timber": 0.2, "IDOTRR": -0.4, "ClearCr": 0.15, "StoneBr": 0.4,
                 "SWISU": -0.2, "MeadowV": -0.35, "Blmngtn": 0.1, "BrDale": -0.3, "Veenker": 0.25, "NPkVill": -0.05,
                 "Blueste": -0.1}
QUALITY = np.array(["Po", "Fa", "TA", "Gd", "Ex"], dtype=object)


def _quality(rng, level: np.ndarray) -> np.ndarray:
    """A quality code ("Po".."Ex") that follows the overall quality (1-10) with noise."""
    return QUALITY[np.clip(np.round(level / 2.5 + rng.normal(0, 0.6, len(level))), 0, 4).astype(int)]


def _with_gaps(values, missing) -> pd.Series:
    return pd.Series(values, dtype="Int64").mask(missing)


def houses(rng, n: int = 900) -> pd.DataFrame:
    neighborhood = rng.choice(list(NEIGHBORHOODS), size=n)
    location = np.array([NEIGHBORHOODS[name] for name in neighborhood])
    overall = np.clip(np.round(6 + 4 * location + rng.normal(0, 1.3, n)), 1, 10).astype(int)
    built = np.clip(np.round(1975 + 40 * location + 5 * (overall - 6) + rng.normal(0, 22, n)), 1872, 2010).astype(int)
    remodeled = np.maximum(built, np.where(rng.random(n) < 0.5, built, rng.integers(1950, 2011, n)))
    living = np.round(np.exp(rng.normal(np.log(1450) + 0.08 * (overall - 6), 0.3, n))).astype(int)
    basement = rng.random(n) < 0.025  # "NA" in BsmtQual: no basement
    garage = rng.random(n) < 0.055  # "NA" in GarageType: no garage
    fireplaces = rng.choice([0, 1, 2, 3], size=n, p=[0.47, 0.45, 0.075, 0.005])
    veneer = _pick(rng, {"None": 0.6, "BrkFace": 0.3, "Stone": 0.09, "BrkCmn": 0.01}, n)  # "None": a real type
    veneer_unknown = rng.random(n) < 0.006
    veneer_area = np.where(veneer == "None", 0, np.round(rng.gamma(2, 90, n)))
    pool = np.zeros(n, dtype=bool)
    pool[rng.choice(n, size=4, replace=False)] = True
    cars = np.where(garage, 0, np.clip(np.round(1.2 + 0.3 * (overall - 6) + rng.normal(0, 0.6, n)), 1, 4)).astype(int)
    sold = rng.integers(2006, 2011, n)
    log_price = (11.9 + 0.11 * (overall - 6) + 0.5 * np.log(living / 1450) + 0.002 * (built - 1975) + 0.4 * location
                 + 0.05 * cars + 0.04 * fireplaces - 0.15 * basement + rng.normal(0, 0.12, n))
    # SalePrice spans 35,000 to 755,000 as the published one does (about 34,900 to 755,000).
    low, high = np.log(35000), np.log(755000)
    log_price = low + (log_price - log_price.min()) * (high - low) / (log_price.max() - log_price.min())
    price = np.clip(np.round(np.exp(log_price) / 100) * 100, 35000, 755000).astype(int)
    return pd.DataFrame({
        "Id": np.arange(1, n + 1),
        "MSSubClass": rng.choice([20, 30, 50, 60, 70, 80, 90, 120, 160, 190], size=n,
                                 p=[0.37, 0.05, 0.1, 0.2, 0.04, 0.04, 0.04, 0.06, 0.04, 0.06]),
        "MSZoning": _pick(rng, {"RL": 0.79, "RM": 0.15, "FV": 0.04, "RH": 0.01, "C (all)": 0.01}, n),
        "LotFrontage": _with_gaps(np.round(rng.normal(70, 20, n).clip(21, 313)), rng.random(n) < 0.18),
        "LotArea": np.round(np.exp(rng.normal(np.log(9500), 0.45, n))).astype(int),
        "Street": np.where(rng.random(n) < 0.996, "Pave", "Grvl"),
        "Alley": _blank(_pick(rng, {"Grvl": 0.55, "Pave": 0.45}, n), 0.94, rng),  # NA: no alley access
        "LotShape": _pick(rng, {"Reg": 0.63, "IR1": 0.33, "IR2": 0.03, "IR3": 0.01}, n),
        "Neighborhood": neighborhood,
        "BldgType": _pick(rng, {"1Fam": 0.84, "TwnhsE": 0.08, "Duplex": 0.04, "Twnhs": 0.03, "2fmCon": 0.01}, n),
        "HouseStyle": _pick(rng, {"1Story": 0.5, "2Story": 0.3, "1.5Fin": 0.1, "SLvl": 0.05, "SFoyer": 0.05}, n),
        "OverallQual": overall,
        "OverallCond": np.clip(np.round(rng.normal(5.6, 1.1, n)), 1, 9).astype(int),
        "YearBuilt": built,
        "YearRemodAdd": remodeled,
        "MasVnrType": np.where(veneer_unknown, None, veneer),
        "MasVnrArea": _with_gaps(veneer_area, veneer_unknown),
        "ExterQual": _quality(rng, overall),
        "BsmtQual": np.where(basement, None, _quality(rng, overall + 1)),
        "TotalBsmtSF": np.where(basement, 0, np.round(living * rng.uniform(0.6, 1.1, n))).astype(int),
        "CentralAir": np.where(rng.random(n) < 0.065 + 0.2 * (built < 1940), "N", "Y"),
        "GrLivArea": living,
        "FullBath": np.clip(np.round(living / 1000 + rng.normal(0, 0.4, n)), 0, 3).astype(int),
        "BedroomAbvGr": np.clip(np.round(living / 520 + rng.normal(0, 0.6, n)), 0, 8).astype(int),
        "KitchenQual": _quality(rng, overall),
        "Fireplaces": fireplaces,
        "FireplaceQu": np.where(fireplaces == 0, None, _quality(rng, overall)),
        "GarageType": np.where(garage, None, _pick(rng, {"Attchd": 0.63, "Detchd": 0.28, "BuiltIn": 0.07,
                                                          "Basment": 0.015, "CarPort": 0.005}, n)),
        "GarageYrBlt": _with_gaps(np.maximum(built, built + rng.integers(-2, 6, n)), garage),
        "GarageCars": cars,
        "PoolQC": np.where(pool, _pick(rng, {"Gd": 0.4, "Ex": 0.3, "Fa": 0.3}, n), None),
        "Fence": _blank(_pick(rng, {"MnPrv": 0.55, "GdPrv": 0.2, "GdWo": 0.2, "MnWw": 0.05}, n), 0.8, rng),
        "MoSold": rng.choice(np.arange(1, 13), size=n, p=np.array([3, 4, 6, 10, 14, 17, 16, 9, 6, 6, 5, 4]) / 100),
        "YrSold": sold,
        "SaleCondition": _pick(rng, {"Normal": 0.82, "Partial": 0.085, "Abnorml": 0.07, "Family": 0.014,
                                     "Alloca": 0.008, "AdjLand": 0.003}, n),
        "SalePrice": price,
    })


# --- 5. econ-like time series (ggplot2's economics, as Rdatasets publishes it) ------------------------------

RECESSIONS = [(1975.3, 1.1), (1982.9, 1.0), (1992.5, 0.9), (2003.4, 0.8), (2010.2, 1.4)]  # (peak year, width)


def economics(rng, n: int = 574) -> pd.DataFrame:
    months = np.arange(n)
    year = 1967.5 + months / 12
    cycle = sum(np.exp(-((year - peak) / width) ** 2) for peak, width in RECESSIONS)
    population = np.round(198712 + 213.2 * months + rng.normal(0, 60, n)).astype(int)
    growth = np.log(12193 / 506.7) * months / (n - 1)
    spending = np.round(506.7 * np.exp(growth - 0.03 * cycle) * rng.normal(1, 0.004, n), 1)
    saving = np.round(np.clip(12.6 - 0.012 * months + 1.5 * cycle + rng.normal(0, 0.9, n), 1.9, 17.3), 1)
    unemployed = np.round(2944 + 9 * months + 6500 * cycle + rng.normal(0, 550, n)).astype(int)
    duration = np.round(np.clip(4.5 + 0.01 * months + 11 * np.roll(cycle, 6) + rng.normal(0, 1.2, n), 4.0, 25.2), 1)
    return pd.DataFrame({
        "rownames": months + 1,
        "date": pd.date_range("1967-07-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
        "pce": spending, "pop": population, "psavert": saving, "uempmed": duration, "unemploy": unemployed,
    })


# --- 6. spam-like texts (the Enron spam_ham_dataset.csv: index, label, text, label_num) --------------------

HAM_SUBJECTS = ["re : meter {n} ; nominations for {month}", "enron / hpl actuals for {month} {day} , 2000",
                "fw : revised nom - {n}", "hpl nom for {month} {day} , 2000", "re : deal ticket {n}",
                "meeting to discuss {month} volumes", "re : spreadsheet for {month} flows", "out of office"]
HAM_SENTENCES = ["please see the attached volumes for meter {n} .", "we agree with the nominations for {month} {day} .",
                 "the deal ticket {n} has been updated in sitara .", "let me know if you have any questions .",
                 "i will be out of the office on {month} {day} .", "the flow at the plant was {n} mmbtu yesterday .",
                 "daren , can you please extend the deal through {month} ?", "thanks for your help with this .",
                 "the pipeline scheduled {n} dth for the weekend .", "call me at x {n} when you get a chance .",
                 "attached is the revised spreadsheet .", "this is a follow up to the note i gave you on {weekday} ."]
SPAM_SUBJECTS = ["save {pct} % on your meds", "your account # {n} needs attention", "hot stock alert - {ticker}",
                 "re : your application has been approved", "cheap software , {pct} % off", "you won ! claim now",
                 "get the lowest mortgage rate today", "fw : meeting tomorrow"]
SPAM_SENTENCES = ["click here to claim your free prize .", "order now and save {pct} % on all products .",
                  "this limited time offer expires on {month} {day} .", "no prescription needed , shipped overnight .",
                  "our stock pick {ticker} is set to soar {pct} % this week .",
                  "to be removed from our list reply remove .",
                  "you have been pre - approved for a low rate loan .", "best prices on viagra , cialis and more .",
                  "let me know if you have any questions .", "thanks for your help with this .",
                  "act now , only {n} copies left !", "visit our website for the best deals online ."]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]


def _fill(template: str, rng) -> str:
    return template.format(n=rng.integers(1000, 999999), month=rng.choice(MONTHS), day=rng.integers(1, 29),
                           pct=rng.choice([30, 50, 70, 80, 90]), weekday=rng.choice(["monday", "tuesday", "friday"]),
                           ticker="".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 4)))


def _email(spam: bool, rng) -> str:
    subjects, sentences = (SPAM_SUBJECTS, SPAM_SENTENCES) if spam else (HAM_SUBJECTS, HAM_SENTENCES)
    body = [_fill(rng.choice(sentences), rng) for _ in range(rng.integers(2, 7))]
    if rng.random() < 0.15:  # a line from the other kind of mail: the classes overlap
        body.insert(rng.integers(0, len(body) + 1), _fill(rng.choice(HAM_SENTENCES if spam else SPAM_SENTENCES), rng))
    return f"Subject: {_fill(rng.choice(subjects), rng)}\r\n" + "\r\n".join(body)


def spam(rng, n: int = 800) -> pd.DataFrame:
    labels = rng.permutation(np.repeat(["spam", "ham"], [round(0.31 * n), n - round(0.31 * n)]))
    texts = [_email(label == "spam", rng) for label in labels]
    repeats = rng.choice(np.arange(n // 2, n), size=round(0.05 * n), replace=False)
    for k, row in enumerate(sorted(repeats)):  # the same mail sent twice; half differ in case or trailing space
        source = int(rng.integers(0, n // 2))
        labels[row] = labels[source]
        texts[row] = texts[source] if k % 2 else texts[source].upper() + " \r\n"
    frame = pd.DataFrame({"label": labels, "text": texts, "label_num": (labels == "spam").astype(int)})
    frame.index = rng.choice(5171, size=n, replace=False)  # the unnamed first column: row numbers of the full set
    return frame


ITEMS = [
    Item("titanic", "titanic/train.csv", titanic, seed=1,
         params={"task.dataset": "table", "collect.table.target": "Survived"}),
    Item("passengers", "TitanicSurvival.csv", passengers, seed=7,
         params={"task.dataset": "table", "collect.table.target": "survived"},
         pending={"collect.table.missing_values": ["NA"]}, csv={"na_rep": "NA"}),
    Item("churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv", churn, seed=2,
         params={"task.dataset": "table", "collect.table.target": "Churn"},
         pending={"collect.table.missing_values": [" "]}),  # TotalCharges is " " for new customers
    Item("penguins", "penguins.csv", penguins, seed=3,
         params={"task.dataset": "table", "collect.table.target": "species"},
         pending={"collect.table.missing_values": ["NA"]}, csv={"na_rep": "NA"}),
    Item("houses", "house-prices/train.csv", houses, seed=4,
         params={"task.dataset": "table", "collect.table.target": "SalePrice"},
         pending={"collect.table.missing_values": ["NA"]}, csv={"na_rep": "NA"}),
    Item("economics", "economics.csv", economics, seed=5,
         params={"task.dataset": "table", "task.problem": "regression", "collect.table.target": "unemploy",
                 "collect.table.time_column": "date"},
         csv={"quoting": csv.QUOTE_NONNUMERIC}),
    Item("spam", "spam_ham_dataset.csv", spam, seed=6,
         params={"task.dataset": "text", "collect.text.text_column": "text", "collect.text.label_column": "label"},
         csv={"index": True}),
]
