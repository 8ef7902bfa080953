"""Write the small outdoor-and-home shop used by ``examples/shopping_bot.py`` (seeded, so reruns are identical).

Writes ``shop_items.csv`` (about 150 products: item_id, title, categories ``|``-joined, description) and
``shop_events.csv`` (views and purchases of 20 shoppers over 2024: user_id, item_id, timestamp, rating,
weight, event, text) next to this script.

Most shoppers keep one or two steady interests. ``maya`` moves: Running (with some Coffee) from January to
June, then Hiking and Camping from July to December. ``leo`` is the opposite, Yoga then Cycling.

Run: ``python examples/data/make_shop_data.py``
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SEED = 2024

# category -> (product names, what the category is about); a product may name extra categories after "|".
CATALOG: dict[str, tuple[list[str], str]] = {
    "Running": (
        [
            "Road running shoes",
            "Trail running shoes|Hiking",
            "Lightweight running shorts",
            "Running socks (3 pack)",
            "GPS running watch",
            "Reflective running vest",
            "Hydration running belt",
            "Compression calf sleeves",
            "Marathon training log|Books",
            "Running cap",
            "Long-sleeve running top",
            "Foam roller|Yoga",
            "Energy gels (12 pack)",
            "Running sunglasses",
            "Sweat headband",
            "Wireless sport earbuds",
            "Running backpack 10L|Hiking",
            "Heart-rate chest strap|Cycling",
            "Winter running gloves",
            "Race-day singlet",
            "Recovery sandals",
            "Carbon racing shoes",
        ],
        "for runners who log road and trail miles",
    ),
    "Hiking": (
        [
            "Waterproof hiking boots",
            "Trekking poles",
            "Day hiking backpack 25L",
            "Merino hiking socks",
            "Topographic map case",
            "Hiking rain jacket",
            "Handheld GPS unit",
            "Blister care kit",
            "Trail guide: Alpine routes|Books",
            "Sun hiking hat",
            "Gaiters",
            "Insulated water bottle|Camping",
            "Hiking first-aid kit|Camping",
            "Convertible hiking pants",
            "Packable down jacket|Camping",
        ],
        "for day hikes and long treks on mountain trails",
    ),
    "Camping": (
        [
            "Two-person backpacking tent",
            "Three-season sleeping bag",
            "Inflatable sleeping pad",
            "Camping stove|Kitchen",
            "Titanium cookset|Kitchen",
            "LED headlamp",
            "Camp lantern",
            "Water filter",
            "Camp chair",
            "Tarp shelter",
            "Bear-proof food canister",
            "Camp pour-over coffee kit|Coffee",
            "Firestarter kit",
        ],
        "for nights outdoors at campsites and in the backcountry",
    ),
    "Yoga": (
        [
            "Non-slip yoga mat",
            "Cork yoga blocks (pair)",
            "Yoga strap",
            "Meditation cushion",
            "Yoga wheel",
            "Breathable yoga leggings",
            "Yoga mat bag",
            "Bolster pillow",
            "Yoga towel",
            "Light of Yoga (book)|Books",
            "Balance board",
            "Resistance bands set",
        ],
        "for a calm home practice and studio classes",
    ),
    "Cycling": (
        [
            "Road bike helmet",
            "Padded cycling shorts",
            "Clipless pedals",
            "Bike repair multitool",
            "Mini floor pump",
            "Bike lights set",
            "Cycling gloves",
            "Saddle bag",
            "Bike computer",
            "Cycling rain jacket",
            "Chain lube",
            "Bike lock",
        ],
        "for road cycling, commuting and weekend rides",
    ),
    "Swimming": (
        [
            "Anti-fog swim goggles",
            "Silicone swim cap",
            "Training fins",
            "Pull buoy",
            "Kickboard",
            "Competition swimsuit",
            "Waterproof swim watch",
            "Microfibre swim towel",
            "Nose clip",
            "Open-water tow float",
            "Swim training paddles",
        ],
        "for pool laps and open-water swims",
    ),
    "Kitchen": (
        [
            "Cast-iron skillet",
            "Chef's knife",
            "Bamboo cutting board",
            "Dutch oven",
            "Stainless saucepan",
            "Spice grinder",
            "Digital kitchen scale",
            "Silicone spatula set",
            "Salad spinner",
            "Sourdough starter kit",
            "Mixing bowls (nested)",
            "Meal-prep containers",
        ],
        "for cooking at home every day",
    ),
    "Coffee": (
        [
            "Burr coffee grinder",
            "Pour-over dripper",
            "Gooseneck kettle|Kitchen",
            "French press",
            "Espresso tamper",
            "Single-origin coffee beans",
            "Coffee scale with timer",
            "Paper filters (100)",
            "Milk frother",
            "AeroPress",
            "Cold brew jar",
            "Travel coffee mug",
        ],
        "for brewing better coffee at home or on the go",
    ),
    "Books": (
        [
            "Born to Run",
            "Into Thin Air|Hiking",
            "The Food Lab|Kitchen",
            "Atomic Habits",
            "Wild: A Memoir|Hiking",
            "Salt Fat Acid Heat|Kitchen",
            "The Art of Travel",
            "Project Hail Mary",
            "The Overstory",
            "Educated",
            "A Walk in the Woods|Hiking",
            "The Midnight Library",
        ],
        "for readers who like stories and practical guides",
    ),
    "Gardening": (
        [
            "Pruning shears",
            "Raised garden bed",
            "Heirloom seed collection",
            "Watering can",
            "Garden gloves",
            "Compost bin",
            "Hand trowel set",
            "Kneeling pad",
            "Drip irrigation kit",
            "Herb planter",
            "Garden hose reel",
        ],
        "for growing vegetables, herbs and flowers",
    ),
    "Photography": (
        [
            "Mirrorless camera body",
            "50mm prime lens",
            "Travel tripod",
            "Camera sling bag",
            "ND filter set",
            "Spare camera battery",
            "SD card 128GB",
            "Lens cleaning kit",
            "Photo editing guide|Books",
            "Remote shutter",
            "Rain cover for camera|Hiking",
        ],
        "for photographers at home and on the trail",
    ),
    "Climbing": (
        [
            "Climbing shoes",
            "Chalk bag",
            "Climbing harness",
            "Belay device",
            "Locking carabiners (3)",
            "Climbing helmet",
            "Crash pad",
            "Dynamic rope 60m",
            "Quickdraw set",
            "Finger tape",
            "Hangboard",
        ],
        "for bouldering, sport climbing and the gym wall",
    ),
}

# shopper -> list of (first month, last month, {category: weight}); months 1..12 of 2024.
SHOPPERS: dict[str, list[tuple[int, int, dict[str, float]]]] = {
    "maya": [(1, 6, {"Running": 0.8, "Coffee": 0.2}), (7, 12, {"Hiking": 0.55, "Camping": 0.4, "Coffee": 0.05})],
    "leo": [(1, 6, {"Yoga": 0.9, "Books": 0.1}), (7, 12, {"Cycling": 0.8, "Books": 0.2})],
    "ana": [(1, 12, {"Kitchen": 0.6, "Coffee": 0.4})],
    "ben": [(1, 12, {"Cycling": 0.7, "Running": 0.3})],
    "chloe": [(1, 12, {"Swimming": 0.6, "Yoga": 0.4})],
    "dev": [(1, 12, {"Photography": 0.7, "Hiking": 0.3})],
    "emma": [(1, 12, {"Books": 0.8, "Coffee": 0.2})],
    "farid": [(1, 12, {"Climbing": 0.7, "Hiking": 0.3})],
    "grace": [(1, 12, {"Gardening": 0.8, "Kitchen": 0.2})],
    "hugo": [(1, 12, {"Running": 0.6, "Swimming": 0.2, "Cycling": 0.2})],
    "ines": [(1, 12, {"Camping": 0.6, "Hiking": 0.4})],
    "jon": [(1, 12, {"Coffee": 0.9, "Books": 0.1})],
    "kira": [(1, 12, {"Yoga": 0.7, "Kitchen": 0.3})],
    "liam": [(1, 12, {"Running": 0.9, "Books": 0.1})],
    "mei": [(1, 12, {"Photography": 0.5, "Books": 0.5})],
    "nora": [(1, 12, {"Gardening": 0.6, "Books": 0.4})],
    "omar": [(1, 12, {"Climbing": 0.5, "Camping": 0.5})],
    "pia": [(1, 12, {"Swimming": 0.8, "Running": 0.2})],
    "raj": [(1, 12, {"Kitchen": 0.5, "Gardening": 0.5})],
    "sofia": [(1, 12, {"Cycling": 0.5, "Photography": 0.5})],
}

# events per month, [low, high) (default 1-3); the two movers shop more, so their shifts have support.
ACTIVITY: dict[str, tuple[int, int]] = {"maya": (2, 5), "leo": (2, 4)}

REVIEWS = {5: "love it", 4: "works well", 3: "it's fine", 2: "not great"}


def build_items() -> list[dict[str, str]]:
    """One row per product, ids ``p001``... in catalog order."""
    rows: list[dict[str, str]] = []
    for category, (names, about) in CATALOG.items():
        for name in names:
            title, *extra = name.split("|")
            cats = [category, *extra]
            rows.append(
                {
                    "item_id": f"p{len(rows) + 1:03d}",
                    "title": title,
                    "categories": "|".join(cats),
                    "description": f"{title}: {category.lower()} gear {about}.",
                }
            )
    return rows


def build_events(items: list[dict[str, str]], rng: np.random.Generator) -> list[dict[str, object]]:
    """Views and purchases: 1-3 per shopper per month (see ACTIVITY), products drawn from that month's interests."""
    by_cat: dict[str, list[str]] = {}
    for row in items:
        for c in row["categories"].split("|"):
            by_cat.setdefault(c, []).append(row["item_id"])
    events: list[dict[str, object]] = []
    for user, phases in SHOPPERS.items():
        bought: set[str] = set()
        for first, last, mix in phases:
            cats = list(mix)
            p = np.array([mix[c] for c in cats])
            for month in range(first, last + 1):
                for _ in range(int(rng.integers(*ACTIVITY.get(user, (1, 4))))):
                    cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
                    pool = [i for i in by_cat[cat] if i not in bought] or by_cat[cat]
                    item = pool[int(rng.integers(len(pool)))]
                    when = datetime(2024, month, 1, tzinfo=UTC) + timedelta(
                        days=int(rng.integers(0, 27)), hours=int(rng.integers(7, 22)), minutes=int(rng.integers(60))
                    )
                    purchase = rng.random() < 0.6
                    rating = int(rng.choice([3, 4, 5], p=[0.15, 0.45, 0.4])) if purchase else None
                    events.append(
                        {
                            "user_id": user,
                            "item_id": item,
                            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "rating": "" if rating is None else rating,
                            "weight": 1.0 if purchase else 0.4,
                            "event": "purchase" if purchase else "view",
                            "text": REVIEWS[rating] if rating is not None and rng.random() < 0.3 else "",
                        }
                    )
                    if purchase:
                        bought.add(item)
    events.sort(key=lambda e: (str(e["user_id"]), str(e["timestamp"]), str(e["item_id"])))
    return events


def write_csv(path: Path, rows: list[dict[str, object]] | list[dict[str, str]]) -> None:
    """Write rows with a header (the keys of the first row)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    """Write both files beside this script."""
    rng = np.random.default_rng(SEED)
    items = build_items()
    events = build_events(items, rng)
    write_csv(HERE / "shop_items.csv", items)
    write_csv(HERE / "shop_events.csv", events)
    print(f"wrote {len(items)} items and {len(events)} events for {len(SHOPPERS)} shoppers to {HERE}")


if __name__ == "__main__":
    main()
