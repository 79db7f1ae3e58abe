"""Build the 12 built-in Word templates (contract, invoice, act, offer × en, ru, zh) with
python-docx. The .docx files are committed; run this after changing it:

    .venv/bin/python plugins/documents/builtin/make_templates.py

Placeholders are docxtpl's Jinja (see docs/plugins/documents.md). Chinese templates set the
East Asian font to Noto Sans CJK SC and w:lang eastAsia zh-CN, so LibreOffice picks the
Simplified Chinese glyph forms; the others use DejaVu Sans (Cyrillic, everywhere)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

HERE = Path(__file__).parent
LATIN = "DejaVu Sans"
CJK = "Noto Sans CJK SC"

L = {  # labels per language
    "en": {
        "supplier": "Supplier", "buyer": "Customer", "address": "Address", "tax": "Tax ID",
        "reg": "Company No.", "bank": "Bank", "account": "Account", "code": "SWIFT / sort code",
        "n": "No.", "item": "Description", "qty": "Qty", "unit": "Unit", "price": "Unit price",
        "net": "Net", "vat": "VAT %", "sum": "Amount", "subtotal": "Subtotal",
        "vat_total": "VAT", "total": "Total due", "words": "Amount in words",
        "date": "Date", "deal": "Re", "sign_for": "For and on behalf of",
        "signature": "Signature", "contact": "Contact",
    },
    "ru": {
        "supplier": "Поставщик (Исполнитель)", "buyer": "Покупатель (Заказчик)",
        "address": "Адрес", "tax": "ИНН", "kpp": "КПП", "reg": "ОГРН", "bank": "Банк получателя",
        "account": "Сч. №", "code": "БИК", "corr": "Корр. счёт", "n": "№",
        "item": "Товары (работы, услуги)", "qty": "Кол-во", "unit": "Ед.", "price": "Цена",
        "net": "Сумма без НДС", "vat": "НДС, %", "sum": "Сумма", "subtotal": "Итого",
        "vat_total": "В том числе НДС", "total": "Итого к оплате", "words": "Сумма прописью",
        "date": "Дата", "deal": "Основание", "signature": "Подпись", "contact": "Контакт",
    },
    "zh": {
        "supplier": "供方（乙方）", "buyer": "需方（甲方）", "address": "地址",
        "tax": "统一社会信用代码", "bank": "开户银行", "account": "银行账号", "code": "行号",
        "n": "序号", "item": "品名及规格", "qty": "数量", "unit": "单位", "price": "单价",
        "net": "不含税金额", "vat": "税率（%）", "sum": "金额", "subtotal": "小计",
        "vat_total": "税额", "total": "合计", "words": "合计金额（大写）", "date": "日期",
        "deal": "项目", "signature": "签字（盖章）", "contact": "联系人",
    },
}

TITLES = {
    ("invoice", "en"): "INVOICE {{ document.number }}",
    ("invoice", "ru"): "Счёт на оплату № {{ document.number }} от {{ document.date }}",
    ("invoice", "zh"): "付款通知书",
    ("offer", "en"): "COMMERCIAL OFFER {{ document.number }}",
    ("offer", "ru"): "Коммерческое предложение № {{ document.number }}",
    ("offer", "zh"): "报价单",
    ("act", "en"): "ACCEPTANCE CERTIFICATE {{ document.number }}",
    ("act", "ru"): "Акт № {{ document.number }} от {{ document.date }}",
    ("act", "zh"): "验收确认书",
    ("contract", "en"): "SERVICES AGREEMENT No. {{ document.number }}",
    ("contract", "ru"): "Договор № {{ document.number }}",
    ("contract", "zh"): "销售合同",
}

INTRO = {
    ("offer", "en"): ["Dear {{ signer.name or customer.name }},",
                      "Thank you for your interest. We are pleased to offer the following for "
                      "“{{ deal.title }}”:"],
    ("offer", "ru"): ["Уважаемый(ая) {{ signer.name or customer.name }}!",
                      "Благодарим за интерес к нашей компании. Предлагаем следующие условия по "
                      "проекту «{{ deal.title }}»:"],
    ("offer", "zh"): ["尊敬的{{ customer.legal_name }}：",
                      "感谢贵司对我司的信任，现就“{{ deal.title }}”报价如下："],
    ("act", "en"): ["The Supplier has performed and the Customer has accepted the following "
                    "services under “{{ deal.title }}”:"],
    ("act", "ru"): ["Мы, нижеподписавшиеся, представитель Исполнителя и представитель Заказчика, "
                    "составили настоящий акт о том, что Исполнителем выполнены, а Заказчиком "
                    "приняты следующие работы (услуги) по проекту «{{ deal.title }}»:"],
    ("act", "zh"): ["依据双方关于“{{ deal.title }}”的约定，乙方已完成下列交付内容，经甲方验收确认："],
}

OUTRO = {
    ("invoice", "en"): ["Payment terms: 10 days from the invoice date. Please quote the invoice "
                        "number with your payment."],
    ("invoice", "ru"): ["Оплата данного счёта означает согласие с условиями поставки товара "
                        "(оказания услуг). Счёт действителен в течение 5 банковских дней. "
                        "В назначении платежа укажите номер счёта."],
    ("invoice", "zh"): ["请于收到本通知书后十个工作日内将上述款项汇入我司账户，汇款时请注明单号。"],
    ("offer", "en"): ["This offer is valid for 30 days from {{ document.date }}. Prices are in "
                      "{{ document.currency }}."],
    ("offer", "ru"): ["Предложение действительно 30 дней с {{ document.date }}. "
                      "Цены указаны в валюте {{ document.currency }}."],
    ("offer", "zh"): ["报价有效期：自{{ document.date }}起三十日内有效。",
                      "付款方式：合同签订后预付30%，验收合格后付清余款。"],
    ("act", "en"): ["The services were performed in full and on time. The Customer has no "
                    "claims as to their scope, quality or timing."],
    ("act", "ru"): ["Вышеперечисленные работы (услуги) выполнены полностью и в срок. Заказчик "
                    "претензий по объёму, качеству и срокам оказания услуг не имеет."],
    ("act", "zh"): ["上述内容已按约定全部完成，质量符合要求，甲方对数量、质量及交付时间无异议。"],
}

CLAUSES = {
    "en": [
        ("1. Subject", "The Supplier shall provide to the Customer the goods and services "
         "listed in Annex 1 (“{{ deal.title }}”), and the Customer shall accept and pay for "
         "them."),
        ("2. Price and payment", "The price is {{ document.total }} {{ document.currency }} "
         "({{ document.total_in_words }}), VAT included where applicable. The Customer shall "
         "pay within 10 business days of the invoice."),
        ("3. Delivery and acceptance", "Acceptance is confirmed by an acceptance certificate "
         "signed by both parties."),
        ("4. Liability", "Each party is liable for failure to perform this Agreement under the "
         "applicable law."),
        ("5. Term", "This Agreement takes effect on signature and remains in force until the "
         "parties have performed their obligations."),
    ],
    "ru": [
        ("1. Предмет договора", "Исполнитель обязуется поставить товары и оказать услуги, "
         "указанные в Спецификации (Приложение № 1) по проекту «{{ deal.title }}», а Заказчик "
         "обязуется принять и оплатить их."),
        ("2. Цена и порядок расчётов", "Цена договора составляет {{ document.total }} "
         "({{ document.total_in_words }}), в том числе НДС {{ document.vat_total }}. Оплата "
         "производится в течение 10 банковских дней с даты выставления счёта."),
        ("3. Сдача и приёмка", "Приёмка подтверждается актом, подписанным обеими сторонами."),
        ("4. Ответственность сторон", "За неисполнение или ненадлежащее исполнение "
         "обязательств стороны несут ответственность в соответствии с законодательством "
         "Российской Федерации."),
        ("5. Срок действия", "Договор вступает в силу с момента подписания и действует до "
         "полного исполнения сторонами своих обязательств."),
    ],
    "zh": [
        ("第一条 合同标的", "乙方向甲方提供“{{ deal.title }}”项下的产品与服务，明细见下表。"),
        ("第二条 合同金额", "合同总金额为{% if document.currency == 'CNY' %}人民币{% endif %}"
         "（大写）{{ document.total_in_words }}（小写：{{ document.total }} "
         "{{ document.currency }}），含税。"),
        ("第三条 付款方式", "甲方应于收到乙方发票后十个工作日内支付全部款项。"),
        ("第四条 验收", "乙方交付后，甲方应于五个工作日内完成验收并签署验收确认书。"),
        ("第五条 违约责任", "任何一方违反本合同约定的，应依照《中华人民共和国民法典》承担违约责任。"),
        ("第六条 其他", "本合同一式两份，双方各执一份，自双方签字盖章之日起生效。"),
    ],
}


def _fonts(run_or_style_element, east_asia: bool) -> None:
    if hasattr(run_or_style_element, "get_or_add_rPr"):
        rpr = run_or_style_element.get_or_add_rPr()
    else:  # w:rPrDefault holds a plain w:rPr
        rpr = run_or_style_element.find(qn("w:rPr"))
        if rpr is None:
            rpr = OxmlElement("w:rPr")
            run_or_style_element.append(rpr)
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)  # a theme font would win over the names below
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), LATIN)
    fonts.set(qn("w:eastAsia"), CJK if east_asia else LATIN)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    if east_asia:
        lang.set(qn("w:val"), "zh-CN")
        lang.set(qn("w:eastAsia"), "zh-CN")
    else:
        lang.set(qn("w:val"), {"ru": "ru-RU"}.get(_current_lang, "en-GB"))


_current_lang = "en"


def new_document(language: str) -> Document:
    global _current_lang
    _current_lang = language
    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(1.5)
    for style in doc.styles:
        if style.type in (1, 3):  # paragraph and table styles
            _fonts(style.element, language == "zh")
    doc.styles["Normal"].font.size = Pt(10)
    # docDefaults too, so text outside styles gets the same fonts and language
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr_default = defaults.find(qn("w:rPrDefault"))
        if rpr_default is not None:
            _fonts(rpr_default, language == "zh")
    return doc


def para(doc: Document, text: str = "", bold: bool = False, size: int | None = None,
         align: Any = None, space_after: int = 4) -> Any:
    p = doc.add_paragraph()
    run = p.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)
    if align is not None:
        p.alignment = align
    p.paragraph_format.space_after = Pt(space_after)
    return p


def table(doc: Document, rows: list[list[str]], widths: list[float] | None = None,
          bold_first: bool = False) -> Any:
    t = doc.add_table(rows=len(rows), cols=len(rows[0]))
    t.style = doc.styles["Table Grid"]
    t.autofit = False
    if widths:
        for col, width in zip(t.columns, widths, strict=True):
            col.width = Cm(width)
        for grid_col, width in zip(t._tbl.tblGrid.findall(qn("w:gridCol")), widths,
                                   strict=True):
            grid_col.set(qn("w:w"), str(int(Cm(width).twips)))
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = t.cell(r, c)
            cell.text = text
            if widths:
                cell.width = Cm(widths[c])
            if bold_first and r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    return t


def party(doc: Document, lang: str, who: str) -> None:
    lab = L[lang]
    if who == "company":
        rows = [f"{lab['supplier']}: {{{{ company.name }}}}",
                f"{lab['tax']}: {{{{ company.tax_id }}}}" + (
                    f", {lab['kpp']}: {{{{ company.kpp }}}}" if lang == "ru" else ""),
                f"{lab['address']}: {{{{ company.address }}}}"]
    else:
        tax = ("{{ customer.inn or customer.tax_id }}" if lang == "ru" else
               "{{ customer.uscc or customer.tax_id }}" if lang == "zh" else
               "{{ customer.tax_id }}")
        rows = [f"{lab['buyer']}: {{{{ customer.legal_name }}}}",
                f"{lab['tax']}: {tax}" + (
                    "{% if customer.kpp %}, " + lab["kpp"] + ": {{ customer.kpp }}{% endif %}"
                    if lang == "ru" else ""),
                f"{lab['address']}: {{{{ customer.address }}}}"]
    for row in rows:
        para(doc, row, space_after=0)
    para(doc, "", space_after=2)


def lines_table(doc: Document, lang: str, with_vat: bool = True) -> None:
    lab = L[lang]
    head = [lab["n"], lab["item"], lab["qty"], lab["unit"], lab["price"]]
    loop = ["{{ l.n }}", "{{ l.name }}", "{{ l.quantity }}", "{{ l.unit }}", "{{ l.price }}"]
    if with_vat:
        head.append(lab["vat"])
        loop.append("{{ l.vat_rate }}")
    head.append(lab["sum"])
    loop.append("{{ l.total }}")
    cols = len(head)
    rows = [head, ["{%tr for l in lines %}"] + [""] * (cols - 1), loop,
            ["{%tr endfor %}"] + [""] * (cols - 1)]
    widths = [1.0, 6.5, 1.6, 1.4, 2.6, 1.6, 2.6] if with_vat else [1.0, 7.5, 1.8, 1.6, 2.8, 2.8]
    table(doc, rows, widths, bold_first=True)
    para(doc, "", space_after=2)


ACT_TOTAL = {"en": "Total", "ru": "Всего", "zh": "合计"}


def totals(doc: Document, lang: str, kind: str, words_line: bool = True) -> None:
    lab = dict(L[lang])
    if kind != "invoice":  # "… к оплате" / "due" belong on an invoice only
        lab["total"] = ACT_TOTAL[lang]
    cur = "{{ document.currency }}"
    for label, key, bold in (("subtotal", "subtotal", False), ("vat_total", "vat_total", False),
                             ("total", "total", True)):
        para(doc, f"{lab[label]}: {{{{ document.{key} }}}} {cur}", bold=bold,
             align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=0)
    if words_line:
        if lang == "ru":
            counted = {"act": "Всего оказано услуг", "offer": "Всего позиций"}.get(
                kind, "Всего наименований")
            para(doc, counted + " {{ lines|length }}, на сумму {{ document.total }} "
                 + cur + ".", space_after=0)
            para(doc, "{{ document.total_in_words|capitalize }}", bold=True)
        elif lang == "zh":
            para(doc, f"{lab['words']}：{{{{ document.total_in_words }}}}", bold=True,
                 space_after=0)
            para(doc, "（小写）：{{ document.total }} " + cur)
        else:
            para(doc, f"{lab['words']}: {{{{ document.total_in_words|capitalize }}}}",
                 bold=True)


def bank(doc: Document, lang: str) -> None:
    lab = L[lang]
    if lang == "ru":
        table(doc, [
            [f"{lab['bank']}: {{{{ company.bank_name }}}}",
             f"{lab['code']}: {{{{ company.bank_code }}}}\n{lab['account']} "
             "{{ company.corr_account }}"],
            ["ИНН {{ company.tax_id }}   КПП {{ company.kpp }}\n"
             "Получатель: {{ company.name }}",
             f"{lab['account']} {{{{ company.bank_account }}}}"],
        ], [11.0, 6.0])
    else:
        para(doc, f"{lab['bank']}: {{{{ company.bank_name }}}}", space_after=0)
        para(doc, f"{lab['account']}: {{{{ company.bank_account }}}}", space_after=0)
        para(doc, f"{lab['code']}: {{{{ company.bank_code }}}}")
    para(doc, "", space_after=2)


def signatures(doc: Document, lang: str, both: bool) -> None:
    if lang == "ru":
        left = ("Исполнитель:\n{{ company.name }}\n{{ company.signatory_title }}\n\n"
                "_____________ / {{ company.signatory_name }} /\nМ.П.")
        right = ("Заказчик:\n{{ customer.legal_name }}\n{{ signer.position }}\n\n"
                 "_____________ / {{ signer.name }} /\nМ.П.")
        single = ("Руководитель _____________ / {{ company.signatory_name }} /\n"
                  "Главный бухгалтер _____________ / {{ company.signatory_name }} /")
    elif lang == "zh":
        left = ("乙方（盖章）：{{ company.name }}\n法定代表人或授权代表：\n\n"
                "签字：__________\n日期：{{ document.date }}")
        right = ("甲方（盖章）：{{ customer.legal_name }}\n法定代表人或授权代表：{{ signer.name }}\n\n"
                 "签字：__________\n日期：")
        single = "{{ company.name }}（盖章）\n经办人：{{ seller.name }}　电话：{{ company.phone }}"
    else:
        left = ("For the Supplier:\n{{ company.name }}\n\n______________________\n"
                "{{ company.signatory_name }}, {{ company.signatory_title }}")
        right = ("For the Customer:\n{{ customer.legal_name }}\n\n______________________\n"
                 "{{ signer.name }}, {{ signer.position }}")
        single = ("{{ company.signatory_name }}, {{ company.signatory_title }}\n"
                  "{{ company.name }} · {{ company.email }} · {{ company.phone }}")
    if both:
        t = doc.add_table(rows=1, cols=2)
        t.cell(0, 0).text, t.cell(0, 1).text = left, right
    else:
        for line in single.split("\n"):
            para(doc, line, space_after=2)


def build(kind: str, lang: str) -> Document:
    doc = new_document(lang)
    # The company's logo (legal entity page), on top; no empty line when there is none.
    para(doc, "{%p if company.logo %}", space_after=0)
    para(doc, "{{ company.logo }}", space_after=6)
    para(doc, "{%p endif %}", space_after=0)
    if kind == "invoice" and lang == "ru":
        bank(doc, lang)
    title = TITLES[(kind, lang)]
    para(doc, title, bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=2)
    lab = L[lang]
    if lang == "zh":
        para(doc, f"编号：{{{{ document.number }}}}　　{lab['date']}：{{{{ document.date }}}}",
             align=WD_ALIGN_PARAGRAPH.CENTER)
    elif lang == "en" or kind in ("offer", "contract"):
        para(doc, f"{lab['date']}: {{{{ document.date }}}}", align=WD_ALIGN_PARAGRAPH.CENTER)
    if kind == "contract":
        if lang == "ru":
            para(doc, "{{ company.name }}, именуемое в дальнейшем «Исполнитель», в лице "
                 "{{ company.signatory_title }} {{ company.signatory_name }}, с одной стороны, "
                 "и {{ customer.legal_name }}, именуемое в дальнейшем «Заказчик», в лице "
                 "{{ signer.position }} {{ signer.name }}, с другой стороны, заключили "
                 "настоящий договор о нижеследующем:")
        elif lang == "zh":
            para(doc, "甲方（需方）：{{ customer.legal_name }}", space_after=0)
            para(doc, "统一社会信用代码：{{ customer.uscc or customer.tax_id }}", space_after=0)
            para(doc, "乙方（供方）：{{ company.name }}", space_after=0)
            para(doc, "统一社会信用代码：{{ company.tax_id }}")
            para(doc, "根据《中华人民共和国民法典》及相关法律法规，甲乙双方经友好协商，"
                 "就下列事项达成一致，签订本合同。")
        else:
            para(doc, "This Agreement is made between {{ company.name }} (the “Supplier”) and "
                 "{{ customer.legal_name }} (the “Customer”).")
        for heading, text in CLAUSES[lang]:
            para(doc, heading, bold=True, space_after=0)
            para(doc, text)
            if heading.startswith(("1.", "第一条")):
                lines_table(doc, lang)
        bank(doc, lang)
        signatures(doc, lang, both=True)
        return doc
    party(doc, lang, "company")
    party(doc, lang, "customer")
    if kind == "offer" and lang == "zh":
        para(doc, f"{lab['contact']}：{{{{ signer.name }}}}　{{{{ signer.phone }}}}")
    for text in INTRO.get((kind, lang), []):
        para(doc, text)
    if kind == "invoice" and lang != "zh":
        para(doc, f"{lab['deal']}: {{{{ deal.title }}}}")
    lines_table(doc, lang)
    totals(doc, lang, kind)
    for text in OUTRO.get((kind, lang), []):
        para(doc, text)
    if kind == "invoice" and lang != "ru":
        bank(doc, lang)
    signatures(doc, lang, both=(kind == "act"))
    return doc


def main() -> None:
    for kind in ("contract", "invoice", "act", "offer"):
        for lang in ("en", "ru", "zh"):
            path = HERE / f"{kind}_{lang}.docx"
            build(kind, lang).save(path)
            print(path.name)


if __name__ == "__main__":
    main()
