"""French reference data of the demo: names, places, trades, catalogue and expense categories.

Everything here is invented for the demo (people, companies, streets and numbers are fictitious),
except the cities with their postal codes and the banks with their public bank codes and BICs.
"""

from __future__ import annotations

from typing import NamedTuple


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split("|") if s.strip())


class City(NamedTuple):
    postal_code: str
    name: str
    phone_area: str  # the two first digits of a landline ('01' ... '05', '0262')
    weight: int


CITIES: tuple[City, ...] = tuple(
    City(cp, name, area, int(w))
    for cp, name, area, w in (
        line.split(";")
        for line in _split(
            """
            75001;Paris;01;2 | 75002;Paris;01;2 | 75003;Paris;01;2 | 75008;Paris;01;4 |
            75009;Paris;01;3 | 75010;Paris;01;3 | 75011;Paris;01;5 | 75012;Paris;01;3 |
            75013;Paris;01;3 | 75015;Paris;01;4 | 75017;Paris;01;3 | 75018;Paris;01;3 |
            75020;Paris;01;3 | 92100;Boulogne-Billancourt;01;3 | 92130;Issy-les-Moulineaux;01;2 |
            92300;Levallois-Perret;01;2 | 93100;Montreuil;01;2 | 93200;Saint-Denis;01;2 |
            94300;Vincennes;01;1 | 78000;Versailles;01;2 | 91000;Évry-Courcouronnes;01;1 |
            69001;Lyon;04;2 | 69002;Lyon;04;2 | 69003;Lyon;04;3 | 69006;Lyon;04;2 |
            69007;Lyon;04;2 | 69100;Villeurbanne;04;2 | 13001;Marseille;04;2 |
            13006;Marseille;04;2 | 13008;Marseille;04;3 | 13100;Aix-en-Provence;04;2 |
            33000;Bordeaux;05;4 | 33700;Mérignac;05;1 | 31000;Toulouse;05;4 |
            31770;Colomiers;05;1 | 44000;Nantes;02;4 | 44800;Saint-Herblain;02;1 |
            59000;Lille;03;4 | 59100;Roubaix;03;1 | 59650;Villeneuve-d'Ascq;03;1 |
            67000;Strasbourg;03;3 | 06000;Nice;04;3 | 35000;Rennes;02;3 | 35400;Saint-Malo;02;1 |
            34000;Montpellier;04;3 | 34200;Sète;04;1 | 97400;Saint-Denis;0262;1 |
            38000;Grenoble;04;2 | 21000;Dijon;03;2 | 49000;Angers;02;2 | 51100;Reims;03;2 |
            76600;Le Havre;02;1 | 42000;Saint-Étienne;04;1 | 83000;Toulon;04;2 |
            63000;Clermont-Ferrand;04;2 | 29200;Brest;02;1 | 87000;Limoges;05;1 | 37000;Tours;02;2 |
            57000;Metz;03;1 | 25000;Besançon;03;1 | 66000;Perpignan;04;1 | 45000;Orléans;02;1 |
            76000;Rouen;02;2 | 14000;Caen;02;1 | 54000;Nancy;03;1 | 84000;Avignon;04;1 |
            17000;La Rochelle;05;1 | 74000;Annecy;04;2 | 73000;Chambéry;04;1 | 30000;Nîmes;04;1 |
            88000;Épinal;03;1 | 71000;Mâcon;03;1 | 20000;Ajaccio;04;1 | 64200;Biarritz;05;1
            """
        )
    )
)

STREET_TYPES = _split(
    "rue|rue|rue|rue|avenue|avenue|boulevard|place|impasse|allée|quai|cours|chemin"
)
STREET_NAMES = _split(
    """de la Paix | Jean-Jaurès | Victor-Hugo | de la République | du Général-de-Gaulle |
    Gambetta | Pasteur | des Lilas | du Moulin | de l'Église | Émile-Zola | Voltaire |
    Saint-Michel | des Écoles | Anatole-France | Jules-Ferry | de Verdun | Carnot | Foch |
    de la Gare | du Château | des Acacias | Paul-Bert | Lamartine | de Strasbourg | Oberkampf |
    de Bretagne | Sainte-Catherine | du Faubourg-Saint-Antoine | de la Liberté | Aristide-Briand |
    Louis-Blanc | des Tanneurs | du Port | Jean-Moulin | des Marronniers | de la Fontaine |
    Condorcet | Nationale | du 8-Mai-1945 | des Capucins | de la Croix-Rousse | Lafayette |
    Édouard-Herriot | des Hirondelles | Saint-Honoré | du Maréchal-Leclerc | Molière | Racine"""
)
ADDRESS_LINE2 = _split(
    """Bâtiment B | 2e étage | 3e étage, porte gauche | ZA des Grands Champs | Zone artisanale |
    Parc d'activités du Moulin | CS 70123 | BP 40210 | Résidence Les Tilleuls | Hall C"""
)

FIRST_NAMES_F = _split(
    """Hélène | Zoé | Gaëlle | Anaïs | Bérénice | Émilie | Céline | Mélanie | Chloé | Léa | Inès |
    Maëlle | Agnès | Lætitia | Clémence | Aurélie | Stéphanie | Valérie | Camille | Nathalie |
    Sophie | Isabelle | Marie-Noëlle | Anne-Sophie | Nadia | Aïcha | Yasmine | Fatou | Zoë |
    Françoise | Joséphine | Margaux | Océane | Élodie | Sandrine"""
)
FIRST_NAMES_M = _split(
    """François | Jérôme | Noël | Loïc | Sébastien | Frédéric | Cédric | Jérémy | Théo | Raphaël |
    Gaël | Joël | Benoît | Hervé | René | André | Grégoire | Étienne | Adrien | Julien | Nicolas |
    Jean-François | Pierre-Édouard | Karim | Mehdi | Thomas | Antoine | Mathéo | Léo | Hugo |
    Łukasz | Stéphane | Maxime | Guillaume | Olivier"""
)
LAST_NAMES = _split(
    """Martin | Bernard | Dubois | Thomas | Robert | Richard | Petit | Durand | Leroy | Moreau |
    Simon | Laurent | Lefèvre | Michel | Garcia | David | Bertrand | Roux | Vincent | Fournier |
    Morel | Girard | André | Mercier | Dupont | Lambert | Bonnet | François | Martinez | Legrand |
    Garnier | Faure | Rousseau | Blanc | Guérin | Müller | Boyer | Chevalier | Perrin | Clément |
    Gauthier | Lemaître | Barbier | Brun | Giraud | Mathieu | Noël | Roussel | Hervé | Benoît |
    Lemoine | Rivière | Colin | Gaillard | Lecomte | Lévêque | Dufrêne | Béranger | Prévost |
    Caron | N'Diaye | D'Alembert | Le Goff | Le Gall | Kerjean | Nguyễn | Benali | Haddad |
    Da Silva | Ferreira | Dos Santos | Rossi | Schmitt | Weber | Kieffer | Château | Pâris"""
)
JOB_TITLES = _split(
    """Gérant | Gérante | Directrice générale | Directeur général | Directeur commercial |
    Responsable achats | Comptable | Assistante de direction | Chef de projet |
    Responsable administratif et financier | Office manager | Président | Présidente |
    Conductrice de travaux | Acheteur | Responsable technique | Chargée de clientèle |
    Responsable marketing | Secrétaire générale | Directrice des opérations"""
)

CUSTOMER_TRADES = _split(
    """Boulangerie | Boucherie | Menuiserie | Garage | Cabinet | Pharmacie | Agence | Studio |
    Atelier | Transports | Hôtel | Restaurant | Librairie | Fromagerie | Imprimerie | Plomberie |
    Électricité | Coiffure | Clinique vétérinaire | Architectes | Bâtiment | Pâtisserie |
    Traiteur | Fleuriste | Auto-école | Conseil | Laboratoire | Crèche | Opticien | Caviste"""
)
CUSTOMER_SUFFIXES = _split("| & Fils | et Associés | du Centre | de la Gare | Frères | & Cie")
LEGAL_FORMS = _split("SAS | SAS | SAS | SARL | SARL | SARL | SASU | EURL | SA | SCI | EI")

#: (bank name, bank code, BIC): public bank codes of real French banks
BANKS: tuple[tuple[str, str, str], ...] = (
    ("BNP Paribas", "30004", "BNPAFRPPXXX"),
    ("Société Générale", "30003", "SOGEFRPPXXX"),
    ("LCL", "30002", "CRLYFRPPXXX"),
    ("La Banque Postale", "20041", "PSSTFRPPPAR"),
    ("Crédit Mutuel", "10278", "CMCIFR2AXXX"),
    ("CIC", "30066", "CMCIFRPPXXX"),
    ("Qonto", "16958", "QNTOFRP1XXX"),
)


class ProductTemplate(NamedTuple):
    name: str
    kind: str  # 'product' | 'service'
    unit: str
    low_cents: int
    high_cents: int
    rate_bp: int
    description: str


def _products() -> tuple[ProductTemplate, ...]:
    rows = """
    Développement web;service;jour;45000;85000;2000;Développement et intégration
    Conseil en stratégie;service;heure;9000;25000;2000;Séance de conseil
    Formation bureautique;service;jour;60000;140000;2000;Formation en présentiel, support inclus
    Maintenance informatique;service;heure;5500;9500;2000;Intervention sur site ou à distance
    Audit énergétique;service;forfait;45000;180000;2000;Audit et rapport détaillé
    Main d'œuvre plomberie;service;heure;4500;7500;1000;Travaux dans un logement de plus de 2 ans
    Intervention dépannage;service;forfait;8000;19000;2000;Déplacement et première heure
    Création graphique;service;forfait;30000;250000;2000;Maquettes et deux allers-retours
    Rédaction de contenu;service;jour;35000;65000;2000;Articles et pages web
    Accompagnement RH;service;heure;8000;16000;2000;Entretiens et conseil
    Traduction anglais-français;service;forfait;9000;90000;2000;Traduction relue
    Nettoyage de bureaux;service;heure;2500;4200;2000;Nettoyage des locaux
    Photographie événementielle;service;forfait;40000;150000;2000;Reportage et retouches
    Gestion de projet;service;jour;50000;90000;2000;Pilotage et comités
    Isolation des combles;service;m²;2000;6000;550;Travaux de rénovation énergétique
    Pose de carrelage;service;m²;3500;7500;1000;Pose collée, joints compris
    Location de salle;service;jour;30000;120000;2000;Salle équipée
    Abonnement maintenance;service;forfait;9000;60000;2000;Contrat annuel, facturé au mois
    Carrelage grès cérame 60x60;product;m²;1800;6500;2000;Grès cérame rectifié
    Peinture acrylique blanche 10 L;product;pièce;4500;11000;2000;Mat, intérieur
    Câble électrique 3G2,5;product;lot;3500;9000;2000;Couronne de 100 m
    Ramette papier A4;product;lot;2400;4800;2000;5 ramettes de 500 feuilles
    Cartouche d'encre noire;product;pièce;1900;6900;2000;Compatible
    Café en grains bio;product;kg;1800;3900;550;Arabica, torréfaction artisanale
    Thé vert Sencha;product;kg;3000;7000;550;Origine Japon
    Plateau-repas;product;pièce;1400;3200;1000;Entrée, plat, dessert
    Panier garni;product;pièce;3500;12000;550;Produits régionaux
    Abonnement magazine professionnel;product;pièce;4000;19000;210;Revue mensuelle, 12 numéros
    Livre « Gérer sa TPE »;product;pièce;1500;3900;550;Broché, 320 pages
    Écran 27 pouces;product;pièce;19000;49000;2000;Dalle IPS, garantie 3 ans
    Chaise de bureau ergonomique;product;pièce;18000;69000;2000;Accoudoirs réglables
    Lot de classeurs;product;lot;1200;3500;2000;10 classeurs à levier
    Vin rouge AOC;product;pièce;900;4500;2000;Bouteille 75 cl
    Farine T65;product;kg;90;250;550;Sac de 25 kg
    """
    out = []
    for line in rows.strip().splitlines():
        name, kind, unit, low, high, rate, desc = line.strip().split(";")
        out.append(ProductTemplate(name, kind, unit, int(low), int(high), int(rate), desc))
    return tuple(out)


PRODUCTS = _products()
#: name suffixes that make more catalogue entries out of one template, by kind
PRODUCT_VARIANTS: dict[str, tuple[str, ...]] = {
    "service": ("", *_split("— niveau 2 | — expert | — urgent | — week-end | — grand compte")),
    "product": ("", *_split("— gamme pro | — format éco | — lot de 5 | — édition 2026 | — XL")),
}


class Category(NamedTuple):
    name: str
    lines: tuple[tuple[str, int, int, int], ...]  # (description, low cents, high cents, rate bp)
    suppliers: tuple[str, ...]
    direct_debit: bool  # paid by SEPA direct debit (PRLV) rather than transfer


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Fournitures de bureau",
        (
            ("Ramettes papier A4", 2000, 6000, 2000),
            ("Stylos et surligneurs", 800, 4000, 2000),
            ("Cartouches d'encre", 2500, 12000, 2000),
            ("Classeurs et chemises", 900, 5000, 2000),
        ),
        ("Bureau Plus Fournitures", "Papeterie Lefèvre", "Fournitures Modernes"),
        False,
    ),
    Category(
        "Loyer",
        (("Loyer des bureaux", 90000, 450000, 2000), ("Provision sur charges", 8000, 60000, 2000)),
        ("SCI Les Tilleuls", "Foncière du Parc", "SCI Gambetta Immobilier"),
        True,
    ),
    Category(
        "Télécommunications",
        (
            ("Forfait mobile professionnel", 1500, 6000, 2000),
            ("Abonnement fibre pro", 3900, 9900, 2000),
        ),
        ("Télécom Horizon", "Fibréo Pro", "Réseaux & Mobiles"),
        True,
    ),
    Category(
        "Déplacements",
        (
            ("Billet de train Paris–Lyon", 4000, 16000, 1000),
            ("Location de véhicule", 6000, 40000, 2000),
            ("Péages autoroute", 800, 6000, 2000),
            ("Course de taxi", 1500, 9000, 1000),
        ),
        ("Voyages Horizon Pro", "Loueur Rhône Auto", "Taxis de l'Ouest"),
        False,
    ),
    Category(
        "Sous-traitance",
        (
            ("Prestation de développement", 50000, 900000, 2000),
            ("Mission de conseil", 40000, 500000, 2000),
        ),
        ("Studio Hélène Garnier", "Dev & Co", "Atelier Numérique Loïc Roux"),
        False,
    ),
    Category(
        "Énergie",
        (("Électricité — consommation", 6000, 90000, 2000), ("Abonnement gaz", 1500, 5000, 550)),
        ("Énergies du Rhône", "Volt & Watt Énergie", "Gaz et Lumière de l'Ouest"),
        True,
    ),
    Category(
        "Honoraires",
        (
            ("Honoraires expert-comptable", 30000, 180000, 2000),
            ("Honoraires d'avocat", 50000, 300000, 2000),
        ),
        ("Cabinet Morel Expertise", "Maître Anaïs Lefèvre", "Audit & Chiffres"),
        False,
    ),
    Category(
        "Publicité",
        (
            ("Impression de flyers", 9000, 90000, 2000),
            ("Campagne d'affichage", 50000, 500000, 2000),
        ),
        ("Imprimerie du Centre", "Affiches & Co", "Agence Zoé Communication"),
        False,
    ),
    Category(
        "Logiciels",
        (
            ("Licence logicielle annuelle", 20000, 300000, 2000),
            ("Abonnement SaaS", 1900, 29900, 2000),
        ),
        ("Logiciels Nuage", "Éditeur Compta Facile", "Cloud Hexagone"),
        True,
    ),
    Category(
        "Restauration",
        (("Repas d'affaires", 4000, 40000, 1000), ("Plateaux-repas réunion", 9000, 60000, 1000)),
        ("Brasserie du Port", "Traiteur Gaëlle", "Le Bistrot d'Anaïs"),
        False,
    ),
    Category(
        "Documentation",
        (
            ("Abonnement presse professionnelle", 4000, 30000, 210),
            ("Ouvrages techniques", 2000, 15000, 550),
        ),
        ("Éditions Lamartine", "Presse Pro Diffusion", "Librairie des Écoles"),
        False,
    ),
    Category(
        "Entretien et réparations",
        (
            ("Réparation climatisation", 15000, 120000, 2000),
            ("Entretien des locaux", 8000, 60000, 2000),
        ),
        ("Clim Services Sud", "Multi-Services Noël", "Maintenance Pasteur"),
        False,
    ),
)

#: unmatched card payments: (merchant as printed on the statement, low cents, high cents)
CARD_MERCHANTS: tuple[tuple[str, int, int], ...] = (
    ("CARREFOUR", 1500, 25000),
    ("TOTALENERGIES", 4000, 12000),
    ("SNCF", 2500, 19000),
    ("AMAZON PAYMENTS", 1200, 30000),
    ("LA POSTE", 300, 6000),
    ("MONOPRIX", 800, 9000),
    ("IKEA", 3000, 60000),
    ("UBER", 1200, 6000),
)
