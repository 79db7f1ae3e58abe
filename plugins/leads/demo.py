"""Demo rows: the website form (round robin among the demo sellers) and some leads."""
from __future__ import annotations

from typing import Any

from conveyor import in_company_language

from .models import LeadForm, LeadRule, LeadRuleSeller
from .texts import _l

COMPANIES = [
    ("ООО «Ромашка»", "Ирина Котова", "Retail", "Moscow"),
    ("Northwind Traders", "Anne Dodsworth", "Distribution", "London"),
    ("北京星光科技有限公司", "王伟", "IT", "Beijing"),
    ("АО «Сибирский лес»", "Павел Широков", "Manufacturing", "Novosibirsk"),
    ("Contoso Ltd", "Dan Park", "IT", "Berlin"),
    ("ООО «Вектор»", "Олег Смирнов", "Logistics", "Kazan"),
    ("上海海风贸易有限公司", "李娜", "Distribution", "Shanghai"),
    ("Fabrikam Inc", "Maria Garcia", "Manufacturing", "Madrid"),
]
SOURCES = ("website", "website", "exhibition", "partner")


def seed(session: Any, users: dict[str, Any], rng: Any) -> None:
    """A rule and the ``website`` form; leads arrive through create_lead, so they are routed."""
    from .services import create_lead

    sellers = list(users.get("sellers") or [users["seller"]])
    rule = LeadRule(name=in_company_language(_l("Website round robin")), strategy="round_robin",
                    position=10, rr_cursor=0,
                    sellers=[LeadRuleSeller(user_id=u.id) for u in sellers])
    session.add(rule)
    session.flush()
    session.add(LeadForm(key="website", name=in_company_language(_l("Website contact form")),
                         source="website",
                         fields=[{"name": "company", "required": False},
                                 {"name": "name", "required": True},
                                 {"name": "email", "required": True},
                                 {"name": "phone", "required": False},
                                 {"name": "notes", "required": False}],
                         allowed_origins=["http://localhost:8000"], rule_id=rule.id,
                         active=True))
    session.flush()
    for i, (company, name, industry, region) in enumerate(COMPANIES):
        phone = f"+7 916 {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
        create_lead({"company": company, "name": name, "industry": industry, "region": region,
                     "email": f"lead{i + 1}@example.com", "phone": phone,
                     "size": rng.choice(["11-50", "51-200", "201-1000"])},
                    source=rng.choice(SOURCES), by=users.get("marketer"))
    session.flush()
