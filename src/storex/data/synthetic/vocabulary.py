"""Words the synthetic catalog and population are made of.

Every leaf category has its own nouns and feature words and every top category its own
adjectives, so a product title says what the product is: text features learn real signal.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Leaf(NamedTuple):
    name: str
    nouns: tuple[str, ...]
    features: tuple[str, ...]
    median_price: float


class Top(NamedTuple):
    name: str
    adjectives: tuple[str, ...]
    leaves: tuple[Leaf, ...]


def _top(name: str, adjectives: str, *leaves: tuple[str, str, str, float]) -> Top:
    return Top(
        name,
        tuple(adjectives.split(", ")),
        tuple(Leaf(n, tuple(a.split(", ")), tuple(f.split(", ")), p) for n, a, f, p in leaves),
    )


CATEGORY_TREE: Final[tuple[Top, ...]] = (
    _top(
        "Electronics",
        "Smart, Digital, Portable, Wireless, Compact, Rechargeable",
        (
            "Headphones",
            "Headphones, Earbuds, Headset",
            "Noise-Cancelling, Over-Ear, Bluetooth, Bass, Studio",
            79.0,
        ),
        ("Smartphones", "Smartphone, Phone", "5G, Dual-SIM, OLED, Unlocked, 128GB", 420.0),
        (
            "Laptops",
            "Laptop, Notebook, Ultrabook",
            "16GB, SSD, Touchscreen, Backlit, Lightweight",
            890.0,
        ),
        (
            "Cameras",
            "Camera, Camcorder, Action Cam",
            "Mirrorless, 4K, Zoom, Stabilized, Megapixel",
            540.0,
        ),
        (
            "Speakers",
            "Speaker, Soundbar, Boombox",
            "Waterproof, Stereo, Surround, Party, Subwoofer",
            95.0,
        ),
        (
            "Smartwatches",
            "Smartwatch, Fitness Tracker, Watch",
            "GPS, Heart-Rate, AMOLED, Sleep-Tracking, Titanium",
            180.0,
        ),
    ),
    _top(
        "Home & Kitchen",
        "Stainless, Nonstick, Modern, Dishwasher-Safe, Family-Size, Essential",
        (
            "Cookware",
            "Frying Pan, Saucepan, Wok, Dutch Oven",
            "Cast-Iron, Ceramic, Induction, Oven-Safe, Granite",
            45.0,
        ),
        (
            "Coffee Makers",
            "Coffee Maker, Espresso Machine, French Press",
            "Programmable, Barista, Milk-Frother, Thermal, Single-Serve",
            85.0,
        ),
        (
            "Bedding",
            "Duvet, Sheet Set, Pillow, Blanket",
            "Cotton, Linen, Hypoallergenic, King-Size, Cooling",
            60.0,
        ),
        (
            "Lighting",
            "Lamp, Ceiling Light, LED Strip",
            "Dimmable, Warm-White, Smart-Bulb, Desk, Pendant",
            40.0,
        ),
        (
            "Storage",
            "Storage Box, Shelf, Organizer",
            "Stackable, Bamboo, Foldable, Drawer, Closet",
            30.0,
        ),
        (
            "Knives",
            "Chef Knife, Knife Set, Cleaver",
            "Damascus, Forged, Santoku, Sharpener, Block",
            70.0,
        ),
    ),
    _top(
        "Fashion",
        "Slim-Fit, Classic, Vintage, Casual, Premium, Everyday",
        (
            "Sneakers",
            "Sneakers, Trainers, Running Shoes",
            "Mesh, Leather, Cushioned, High-Top, Retro",
            75.0,
        ),
        (
            "Jackets",
            "Jacket, Parka, Windbreaker",
            "Insulated, Hooded, Quilted, Waterproof, Down",
            110.0,
        ),
        ("Dresses", "Dress, Maxi Dress, Sundress", "Floral, Wrap, Midi, Silk, Pleated", 55.0),
        ("Jeans", "Jeans, Denim, Chinos", "Stretch, Straight-Leg, Raw, Distressed, Tapered", 50.0),
        (
            "Handbags",
            "Handbag, Tote, Crossbody Bag",
            "Leather, Quilted, Chain, Canvas, Zip-Top",
            90.0,
        ),
        (
            "Sunglasses",
            "Sunglasses, Shades, Aviators",
            "Polarized, UV400, Oversized, Round, Mirrored",
            45.0,
        ),
    ),
    _top(
        "Sports & Outdoors",
        "Durable, Ultralight, Breathable, Pro, Trail, All-Weather",
        (
            "Running",
            "Running Vest, Running Belt, Shorts",
            "Reflective, Moisture-Wicking, Marathon, Hydration, Compression",
            35.0,
        ),
        ("Cycling", "Bike Helmet, Bike Light, Saddle", "Aero, Carbon, Gravel, Clip-In, Road", 60.0),
        (
            "Camping",
            "Tent, Sleeping Bag, Camp Stove",
            "Two-Person, Three-Season, Backpacking, Insulated, Pop-Up",
            95.0,
        ),
        (
            "Yoga",
            "Yoga Mat, Yoga Block, Strap",
            "Non-Slip, Cork, Extra-Thick, Eco, Alignment",
            25.0,
        ),
        (
            "Fitness Equipment",
            "Dumbbells, Kettlebell, Resistance Bands",
            "Adjustable, Hex, Home-Gym, Neoprene, Set",
            55.0,
        ),
        (
            "Swimming",
            "Goggles, Swimsuit, Swim Cap",
            "Anti-Fog, Chlorine-Resistant, Racing, Silicone, Training",
            22.0,
        ),
    ),
    _top(
        "Beauty",
        "Natural, Vegan, Organic, Fragrance-Free, Gentle, Dermatologist",
        (
            "Skincare",
            "Moisturizer, Serum, Cleanser",
            "Hyaluronic, Retinol, Vitamin-C, SPF, Night",
            24.0,
        ),
        (
            "Makeup",
            "Lipstick, Mascara, Foundation",
            "Matte, Long-Lasting, Waterproof, Shade, Volumizing",
            18.0,
        ),
        (
            "Haircare",
            "Shampoo, Conditioner, Hair Oil",
            "Argan, Sulfate-Free, Repair, Volume, Curl",
            14.0,
        ),
        (
            "Fragrances",
            "Eau de Parfum, Cologne, Body Mist",
            "Citrus, Woody, Floral, Musk, Amber",
            65.0,
        ),
        (
            "Nail Care",
            "Nail Polish, Gel Kit, Nail File",
            "Gel, Quick-Dry, Glitter, UV-Lamp, Cuticle",
            12.0,
        ),
        (
            "Shaving",
            "Razor, Shaving Cream, Trimmer",
            "Safety, Cordless, Precision, Sensitive, Beard",
            28.0,
        ),
    ),
    _top(
        "Books",
        "Bestselling, Illustrated, Paperback, Hardcover, Collected, Award-Winning",
        (
            "Fiction",
            "Novel, Thriller, Mystery",
            "Crime, Historical, Literary, Romance, Suspense",
            15.0,
        ),
        (
            "Cookbooks",
            "Cookbook, Recipe Book, Baking Guide",
            "Vegetarian, Italian, Quick, Sourdough, Healthy",
            25.0,
        ),
        (
            "Children's Books",
            "Picture Book, Bedtime Stories, Activity Book",
            "Dinosaur, Rhyming, Alphabet, Fairy-Tale, Sticker",
            10.0,
        ),
        (
            "Science",
            "Science Guide, Astronomy Book, Field Guide",
            "Physics, Biology, Universe, Brain, Evolution",
            22.0,
        ),
        (
            "History",
            "History, Biography, Memoir",
            "Ancient, Empire, War, Revolution, Medieval",
            20.0,
        ),
        (
            "Comics",
            "Graphic Novel, Comic, Manga",
            "Superhero, Volume, Anthology, Fantasy, Sci-Fi",
            16.0,
        ),
    ),
    _top(
        "Toys & Games",
        "Educational, Family, Kids, Creative, Deluxe, Classic",
        (
            "Board Games",
            "Board Game, Card Game, Strategy Game",
            "Cooperative, Party, Dice, Two-Player, Expansion",
            35.0,
        ),
        (
            "Building Sets",
            "Building Set, Brick Kit, Construction Set",
            "Castle, Spaceship, Technic, Robot, City",
            45.0,
        ),
        (
            "Dolls",
            "Doll, Dollhouse, Action Figure",
            "Poseable, Collectible, Fashion, Accessories, Playset",
            28.0,
        ),
        (
            "Puzzles",
            "Jigsaw Puzzle, Puzzle Box, Brain Teaser",
            "1000-Piece, Landscape, Wooden, 3D, Panorama",
            18.0,
        ),
        (
            "Remote Control",
            "RC Car, Drone, RC Boat",
            "Off-Road, Racing, Camera, Rechargeable, Stunt",
            60.0,
        ),
        (
            "Plush",
            "Plush Toy, Teddy Bear, Stuffed Animal",
            "Soft, Giant, Unicorn, Bunny, Huggable",
            20.0,
        ),
    ),
    _top(
        "Grocery",
        "Organic, Fair-Trade, Gourmet, Artisan, Family-Pack, Imported",
        (
            "Coffee",
            "Coffee Beans, Ground Coffee, Coffee Pods",
            "Arabica, Dark-Roast, Single-Origin, Decaf, Espresso",
            14.0,
        ),
        (
            "Tea",
            "Green Tea, Black Tea, Herbal Tea",
            "Matcha, Earl-Grey, Chamomile, Loose-Leaf, Chai",
            9.0,
        ),
        (
            "Snacks",
            "Chips, Trail Mix, Granola Bars",
            "Salted, Protein, Gluten-Free, Crunchy, Nut",
            6.0,
        ),
        (
            "Pasta & Grains",
            "Pasta, Rice, Quinoa",
            "Durum, Basmati, Whole-Grain, Spaghetti, Risotto",
            5.0,
        ),
        (
            "Spices",
            "Spice Blend, Seasoning, Peppercorns",
            "Smoked, Paprika, Curry, Saffron, Chili",
            8.0,
        ),
        (
            "Chocolate",
            "Chocolate Bar, Truffles, Cocoa",
            "Dark, Milk, Hazelnut, Sea-Salt, Praline",
            7.0,
        ),
    ),
    _top(
        "Garden",
        "Weatherproof, Heavy-Duty, Eco, Outdoor, Galvanized, Seasonal",
        (
            "Plants",
            "Houseplant, Succulent, Bonsai",
            "Potted, Low-Light, Air-Purifying, Flowering, Tropical",
            25.0,
        ),
        (
            "Garden Tools",
            "Pruner, Shovel, Rake",
            "Ergonomic, Telescopic, Steel, Bypass, Hand",
            30.0,
        ),
        (
            "Outdoor Furniture",
            "Patio Chair, Garden Bench, Hammock",
            "Teak, Rattan, Folding, Cushioned, Lounge",
            160.0,
        ),
        ("Grills", "Grill, Smoker, Barbecue", "Charcoal, Gas, Kettle, Pellet, Portable", 220.0),
        (
            "Watering",
            "Garden Hose, Sprinkler, Watering Can",
            "Expandable, Drip, Timer, Oscillating, Nozzle",
            28.0,
        ),
        ("Seeds", "Seed Pack, Bulbs, Seed Kit", "Heirloom, Tomato, Wildflower, Herb, Tulip", 6.0),
    ),
    _top(
        "Pet Supplies",
        "Premium, Vet-Approved, Natural, Grain-Free, Chew-Proof, Washable",
        (
            "Dog Food",
            "Dog Food, Dog Treats, Puppy Food",
            "Salmon, Chicken, Senior, High-Protein, Dental",
            40.0,
        ),
        (
            "Cat Food",
            "Cat Food, Cat Treats, Kitten Food",
            "Tuna, Indoor, Hairball, Wet, Pate",
            30.0,
        ),
        (
            "Pet Toys",
            "Chew Toy, Cat Wand, Ball Launcher",
            "Squeaky, Interactive, Rope, Feather, Puzzle",
            12.0,
        ),
        (
            "Aquarium",
            "Aquarium, Fish Tank Filter, Heater",
            "Nano, LED, Planted, Canister, Gallon",
            70.0,
        ),
        (
            "Pet Beds",
            "Dog Bed, Cat Tree, Pet Blanket",
            "Orthopedic, Calming, Memory-Foam, Donut, Elevated",
            50.0,
        ),
        (
            "Grooming",
            "Pet Brush, Pet Shampoo, Nail Clipper",
            "Deshedding, Oatmeal, Slicker, Self-Cleaning, Grinder",
            18.0,
        ),
    ),
)

# Words that say where a product sits in its brand's line-up, cheapest first.
LINE_WORDS: Final = ("Basic", "Essentials", "Classic", "Plus", "Pro", "Elite", "Ultra")

BRAND_ONSETS: Final = (
    "Al",
    "Bel",
    "Cor",
    "Dex",
    "El",
    "Fen",
    "Gal",
    "Hal",
    "Iv",
    "Jun",
    "Kor",
    "Lum",
    "Mar",
    "Nov",
    "Or",
    "Pol",
    "Quin",
    "Ros",
    "Sol",
    "Tor",
    "Ul",
    "Ver",
    "Wel",
    "Xan",
    "Yor",
    "Zen",
)
BRAND_CODAS: Final = (
    "ara",
    "ento",
    "ix",
    "ora",
    "aro",
    "ion",
    "ex",
    "ami",
    "uno",
    "ella",
    "ova",
    "ant",
    "eon",
    "ira",
    "ux",
    "alis",
)
BRAND_SUFFIXES: Final = ("", "", "", " Labs", " Co", " & Sons", " Works", " Studio", " Home")

OCCUPATIONS: Final = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "marketing",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
    "other",
)

# Shoppers by hour of day (store-local time, which is UTC here): quiet nights, a lunch bump,
# the evening peak.
HOURLY_ACTIVITY: Final = (
    0.35,
    0.2,
    0.12,
    0.08,
    0.08,
    0.12,
    0.3,
    0.55,
    0.8,
    0.9,
    1.0,
    1.05,
    1.2,
    1.1,
    1.0,
    0.95,
    1.0,
    1.15,
    1.4,
    1.75,
    2.0,
    1.85,
    1.3,
    0.7,
)
WEEKEND_BOOST: Final = 1.25
