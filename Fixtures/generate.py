#!/usr/bin/env python3
"""Writes the seed municipalities' fixtures in kmk-sync's canonical export format.

Run from anywhere: python3 Fixtures/generate.py. Deterministic: ids are UUIDv5 of stable names.
Facts come from the municipal texts in shared/seeds; see Fixtures/README.md for what is invented.
"""
import json, os, uuid

NS = uuid.UUID("6b6d6b2d-7379-6e63-2d66-697874757265")  # fixed namespace for fixture ids
HERE = os.path.dirname(os.path.abspath(__file__))
BOOL = {"has_steering_group", "licensing_stance_public", "has_coordinator", "has_drug_policy", "has_action_plan",
        "shows_signage", "includes_drug_tests", "police_report", "mandatory"}


def rid(code, *parts):
    return str(uuid.uuid5(NS, "/".join([code, *map(str, parts)])))


def enc(v, name):
    if name in BOOL:
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def write(code, slug, records):
    lines = []
    for entity, id_, fields in sorted(records, key=lambda r: (r[0].encode(), r[1].encode())):
        body = ",".join(json.dumps(k, ensure_ascii=False) + ":" + enc(v, k)
                        for k, v in sorted(fields.items(), key=lambda kv: kv[0].encode()) if v is not None)
        lines.append('{"entity":%s,"fields":{%s},"id":%s}' % (json.dumps(entity), body, json.dumps(id_)))
    text = '{"format":"kmk-sync-export","municipality":"%s","schema":1,"records":[\n' % code
    text += ",\n".join(lines) + "\n]}\n"
    with open(os.path.join(HERE, f"{code}-{slug}.json"), "w", encoding="utf-8") as f:
        f.write(text)


def venues(code, names, joined, staff, door):
    out = []
    for i, name in enumerate(names):
        out.append(("venue", rid(code, "venue", i), {
            "name": name, "address": f"Storgatan {i + 1}", "membership": "member", "joined_on": joined,
            "has_drug_policy": True, "has_action_plan": i % 3 != 2, "shows_signage": i % 4 != 3,
            "staff_count": staff + i, "door_staff_count": door, "key_staff_count": 3}))
    return out


def training(code, n, date, organiser, venue_ids, staff, door, title="KMK-utbildning"):
    t = rid(code, "training", n)
    out = [("training", t, {"held_on": date, "organiser": organiser, "place": "Stadshuset", "title": title})]
    for j, v in enumerate(venue_ids):
        out.append(("training_venue", rid(code, "training", n, j),
                    {"training": t, "venue": v, "staff_trained": staff, "door_staff_trained": door, "key_staff_trained": 2}))
    return out


def meetings(code, kind, dates, venue_ids):
    out = []
    for n, d in enumerate(dates):
        m = rid(code, "meeting", kind, n)
        attending = venue_ids[: len(venue_ids) - n % 3]
        out.append(("meeting", m, {"kind": kind, "held_on": d, "venues_represented": len(attending)}))
        for j, v in enumerate(attending):
            out.append(("meeting_venue", rid(code, "meeting", kind, n, j), {"meeting": m, "venue": v}))
    return out


def eskilstuna():
    code = "0484"
    names = ["Krogen Påhittad", "Exempelbaren", "Fiktiva Fisken", "Nattklubb Låtsas", "Pub Påhittet",
             "Restaurang Exemplet", "Bar Fantasi"]
    r = [("municipality", code, {"name": "Eskilstuna", "responsible_unit": "Trygga Eskilstuna (brottsförebyggande rådet)",
                                 "kmk_start_year": 2016, "has_steering_group": False, "has_coordinator": True})]
    r += venues(code, names, "2016-02-15", 12, 2)
    r.append(("venue", rid(code, "venue", "applicant"), {"name": "Kvarterskrogen Tänkt", "membership": "applicant"}))
    vids = [rid(code, "venue", i) for i in range(7)]
    r += training(code, 1, "2016-02-15", "both", vids, 10, 2)
    r += training(code, 2, "2016-11-14", "both", vids[:4], 4, 1)
    cats = ["information", "staff_policy", "physical_environment"]
    for i, v in enumerate(vids):
        rd = rid(code, "round", i)
        r.append(("round", rd, {"venue": v, "held_on": f"2016-04-{10 + i:02d}", "time_of_day": "evening",
                                "participants": "municipality,police,venue", "checklist": "nationell checklista",
                                "findings": "Belysning vid entrén och toaletter behöver ses över."}))
        for j, cat in enumerate(cats):
            status = ["done", "open", "dropped"][(i + j) % 3] if j < 2 or i % 2 == 0 else "open"
            r.append(("action", rid(code, "action", i, j), {
                "round": rd, "category": cat, "description": f"Åtgärd inom {cat.replace('_', ' ')}",
                "due_on": "2016-06-30", "status": status,
                "done_on": "2016-06-01" if status in ("done", "dropped") else None}))
    r += meetings(code, "network", ["2016-03-10", "2016-09-15", "2017-02-09", "2017-05-18", "2017-10-12"], vids)
    r.append(("campaign", rid(code, "campaign", 2015), {"name": "Nationell KMK-kampanj 2015", "starts_on": "2015-10-01",
                                                        "ends_on": "2015-10-31", "channels": "print,social_media"}))
    r.append(("campaign", rid(code, "campaign", 2024), {
        "name": "Gemensamt ställningstagande mot narkotika", "starts_on": "2024-04-15", "ends_on": "2024-06-30",
        "channels": "billboards,buses,film,print,social_media,web",
        "description": "Kommunen, polisen, arbetsgivare och föreningar mot situationellt narkotikabruk."}))
    for year, coke, amph in [(2023, 61.0, 40.5), (2024, 57.25, 38.0), (2025, 52.5, 36.75)]:
        for substance, value in [("kokain", coke), ("amfetamin", amph)]:
            r.append(("indicator", rid(code, "indicator", year, substance), {
                "name": "Narkotikarester i avloppsvatten (ANDTS 2024–2027)", "substance": substance,
                "period": str(year), "value": value, "unit": "mg/dygn/1000 invånare", "source": "Avloppsreningsverket"}))
    return code, "eskilstuna", r


def karlstad():
    code = "1780"
    names = ["Krogen Påhittad Karlstad", "Exempelkällaren", "Låtsasloungen", "Fiktiva Hörnet", "Nattbaren Tänkt",
             "Pub Exempel", "Restaurang Påhitt", "Klubb Fantasi"]
    r = [("municipality", code, {"name": "Karlstad", "responsible_unit": "Tillståndsenheten med Karlstads Ansvar",
                                 "kmk_start_year": 2005, "has_steering_group": True, "licensing_stance_public": True,
                                 "has_coordinator": True})]
    r += venues(code, names, "2006-09-01", 15, 3)
    vids = [rid(code, "venue", i) for i in range(8)]
    r += training(code, 2015, "2015-03-12", "both", vids, 12, 3)
    r += training(code, 2016, "2016-03-10", "both", vids, 12, 3)
    r += meetings(code, "reference_group", ["2015-02-05", "2015-05-07", "2015-09-03", "2015-11-12",
                                            "2016-02-04", "2016-05-12", "2016-09-08", "2016-11-10"], vids)
    for i, v in enumerate(vids):
        r.append(("agreement", rid(code, "agreement", 2014, i), {
            "venue": v, "signed_on": "2014-05-01", "valid_until": "2016-04-30", "includes_drug_tests": False,
            "parties": "municipality,police,venue"}))
        r.append(("agreement", rid(code, "agreement", 2016, i), {
            "venue": v, "signed_on": "2016-05-01", "valid_until": "2018-04-30", "includes_drug_tests": True,
            "parties": "municipality,police,venue"}))
        if i < 5:
            r.append(("drug_test", rid(code, "drugtest", i), {"venue": v, "tested_on": f"2016-{9 + i % 3:02d}-15",
                                                              "tested": 6, "positive": 1 if i == 2 else 0}))
    r.append(("campaign", rid(code, "campaign", 2016), {
        "name": "Karlstad är en Krogar mot knark-kommun", "starts_on": "2016-04-01", "ends_on": "2016-05-31",
        "channels": "billboards", "description": "Kommunens stortavlor marknadsför krogarna i nätverket."}))
    return code, "karlstad", r


def helsingborg():
    code = "1283"
    names = ["Krogen Påhittad Hbg", "Exempelhamnen", "Fiktiva Kajen", "Nattklubb Tänkt", "Bar Låtsas", "Pub Fantasi",
             "Restaurang Påhittet", "Sundsbaren Exempel", "Klubb Exemplet", "Vinbaren Fiktiv"]
    r = [("municipality", code, {"name": "Helsingborg", "responsible_unit": "KROG-projektet, Helsingborgs stad",
                                 "kmk_start_year": 2006, "has_steering_group": False, "licensing_stance_public": True,
                                 "has_coordinator": True})]
    r += venues(code, names, "2007-01-15", 20, 4)
    vids = [rid(code, "venue", i) for i in range(len(names))]
    for year in range(2021, 2025):
        r += training(code, year, f"{year}-03-0{year - 2019}", "police", vids[: 6 + year - 2021], 8, 4,
                      "Narkotika på krogen för ordningsvakter och personal")
    r += meetings(code, "network", ["2023-02-02", "2023-06-01", "2023-10-05", "2024-02-01", "2024-06-13"], vids)
    for i in range(3):
        r.append(("police_contact", rid(code, "police", i), {"venue": vids[i], "contacted_on": f"2024-0{i + 2}-10",
                                                             "reason": "drug_problem", "police_report": i != 1}))
    return code, "helsingborg", r


def kalmar():
    code = "0880"
    names = ["Krogen Påhittad Kalmar", "Exempelslottet", "Fiktiva Fyren", "Bar Låtsas Kalmar", "Nattklubb Fantasi"]
    r = [("municipality", code, {"name": "Kalmar", "responsible_unit": "Drogförebyggande samordning",
                                 "kmk_start_year": 2004, "has_coordinator": True})]
    r += venues(code, names, "2004-09-01", 14, 2)
    vids = [rid(code, "venue", i) for i in range(len(names))]
    r.append(("mapping", rid(code, "mapping", 2004), {
        "done_on": "2004-03-01", "method": "Enkät till ordningsvakter och krogpersonal",
        "summary": "Kartläggning av narkotikasituationen på Kalmars krogar inför starten."}))
    for year in (2022, 2023):
        r += training(code, year, f"{year}-10-0{year - 2019}", "both", vids, 6, 2, "Information om droger med polisen")
    r.append(("campaign", rid(code, "campaign", 2023), {
        "name": "Informationskampanj mot partydrogande", "starts_on": "2023-01-16", "ends_on": "2023-03-31",
        "channels": "social_media,web", "description": "Om vikten av varje persons val kring droger."}))
    return code, "kalmar", r


if __name__ == "__main__":
    for make in (eskilstuna, karlstad, helsingborg, kalmar):
        write(*make())
