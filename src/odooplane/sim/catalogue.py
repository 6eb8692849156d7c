"""The built-in module catalogue: real Odoo 18 Community modules, by manifest.

Names, versions (as written in each ``__manifest__.py``, adapted to the series
when loaded), dependencies, ``auto_install`` triggers, categories and display
names come from the 18.0 manifests of the modules a platform typically installs
(base, sale_management, stock, account, purchase, crm, contacts, payment,
payment_stripe, auth_oauth, mail, website, hr, project, calendar) plus every
module those depend on or auto-install.  With it ``-i base`` installs the same
12 modules as real Odoo 18, and ``-i sale_management,stock,account`` the same
59.  Modules found on ``addons_path`` override entries of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One manifest, as the simulator needs it."""

    name: str
    version: str
    depends: tuple[str, ...]
    auto_install: bool | tuple[str, ...]
    application: bool
    category: str
    shortdesc: str


# name|version|depends|auto_install ("*" = True, else the trigger list)|app|category|name in manifest
_TABLE = """\
account|1.3|base_setup,onboarding,product,analytic,portal,digest||app|Accounting/Accounting|Invoicing
account_edi_ubl_cii|1.0|account|*||Accounting/Accounting|Import/Export electronic invoices with UBL/CII
account_payment|2.0|account,payment|account||Accounting/Accounting|Payment - Account
analytic|1.1|base,mail,uom|||Accounting/Accounting|Analytic Accounting
auth_oauth|1.0|base,web,base_setup,auth_signup|||Hidden/Tools|OAuth2 Authentication
auth_signup|1.0|base_setup,mail,web|*||Hidden/Tools|Signup
auth_totp|1.0|web|*||Extra Tools|Two-Factor Authentication (TOTP)
auth_totp_mail|1.0|auth_totp,mail|*||Extra Tools|2FA Invite mail
auth_totp_portal|1.0|portal,auth_totp|*||Hidden|TOTPortal
barcodes|2.0|web|||Hidden|Barcode
barcodes_gs1_nomenclature|1.0|barcodes,uom|||Hidden|Barcode - GS1 Nomenclature
base|1.3||*||Hidden|Base
base_import|2.0|web|*||Hidden/Tools|Base import
base_import_module|1.0|web|*||Hidden/Tools|Base import module
base_install_request|1.0|mail|*||Hidden|Base - Module Install Request
base_setup|1.0|base,web|*||Hidden|Initial Setup Tools
bus|1.0|base,web|*||Hidden|IM Bus
calendar|1.1|base,mail||app|Productivity/Calendar|Calendar
calendar_sms|1.1|calendar,sms|*||Hidden|Calendar - SMS
contacts|1.0|base,mail||app|Sales/CRM|Contacts
crm|1.8|base_setup,sales_team,mail,calendar,resource,utm,web_tour,contacts,digest,\
phone_validation||app|Sales/CRM|CRM
crm_iap_enrich|1.1|iap_crm,iap_mail|*||Sales/CRM|Lead Enrichment
crm_iap_mine|1.2|iap_crm,iap_mail|*||Sales/CRM|Lead Generation
crm_sms|1.1|crm,sms|*||Sales/CRM|SMS in CRM
digest|1.1|mail,portal,resource|||Marketing|KPI Digests
google_gmail|1.2|mail|*||Hidden|Google Gmail
google_recaptcha|1.0|base_setup|||Hidden|Google reCAPTCHA integration
hr|1.1|base_setup,digest,phone_validation,resource_mail,web||app|Human Resources/Employees|Employees
hr_calendar|1.0|hr,calendar|*||Human Resources/Employees|Display Working Hours in Calendar
hr_org_chart|1.0|hr,web_hierarchy|hr||Hidden|HR Org Chart
hr_skills|1.0|hr|*|app|Human Resources/Employees|Skills Management
html_editor|1.0|base,bus,web|*||Hidden|HTML Editor
http_routing|1.0|web|||Hidden|Web Routing
iap|1.1|web,base_setup|*||Hidden/Tools|In-App Purchases
iap_crm|1.0|crm,iap_mail|*||Hidden/Tools|IAP / CRM
iap_mail|1.0|iap,mail|*||Hidden/Tools|IAP / Mail
mail|1.18|base,base_setup,bus,web_tour,html_editor||app|Productivity/Discuss|Discuss
mail_bot|1.2|mail|*||Productivity/Discuss|OdooBot
mail_bot_hr|1.0|mail_bot,hr|*||Productivity/Discuss|OdooBot - HR
onboarding|1.2|web|||Hidden|Onboarding Toolbox
partner_autocomplete|1.1|iap_mail|*||Hidden/Tools|Partner Autocomplete
payment|2.0|onboarding,portal|||Hidden|Payment Engine
payment_stripe|2.0|payment|||Accounting/Payment Providers|Payment Provider: Stripe
phone_validation|2.1|base,mail|*||Hidden|Phone Numbers Validation
portal|1.0|web,web_editor,http_routing,mail,auth_signup|||Hidden|Customer Portal
portal_rating|1.0|portal,rating|*||Hidden|Portal Rating
privacy_lookup|1.0|mail|*||Hidden|Privacy
product|1.2|base,mail,uom|||Sales/Sales|Products & Pricelists
project|1.3|analytic,base_setup,mail,portal,rating,resource,web,web_tour,\
digest||app|Services/Project|Project
project_account|1.0|account,project|*||Hidden|Project - Account
project_purchase|1.0|purchase,project_account|*||Services/Project|Project Purchase
project_purchase_stock|1.0|project_purchase,project_stock|*||Hidden|Project - Purchase - Stock
project_sms|1.0|project,sms|*||Hidden|Project - SMS
project_stock|1.0|stock,project|*||Services/Project|Project Stock
project_stock_account|1.0|stock_account,project_stock|*||Services/Project|Project Stock Account
project_todo|1.0|project|*|app|Productivity/To-Do|To-Do
purchase|1.2|account||app|Inventory/Purchase|Purchase
purchase_edi_ubl_bis3|1.0|purchase,\
account_edi_ubl_cii|*||Inventory/Purchase|Import/Export electronic orders with UBL
purchase_stock|1.2|stock_account,purchase|*||Inventory/Purchase|Purchase Stock
rating|1.1|mail|||Productivity|Customer Rating
resource|1.1|base,web|||Hidden|Resource
resource_mail|1.0|resource,mail|*||Hidden|Resource Mail
sale|1.2|sales_team,account_payment,utm|||Sales/Sales|Sales
sale_async_emails|1.0|sale|*||Sales/Sales|Sales - Async Emails
sale_crm|1.0|sale,crm|*||Hidden|Opportunity to Quotation
sale_edi_ubl|1.0|sale,account_edi_ubl_cii|*||Sales/Sales|Import electronic orders with UBL
sale_management|1.0|sale,digest||app|Sales/Sales|Sales
sale_pdf_quote_builder|1.0|sale_management|*||Sales/Sales|Sales PDF Quotation Builder
sale_project|1.0|sale_management,sale_service,project_account|project_account,\
sale_management||Hidden|Sales - Project
sale_project_stock|1.0|sale_project,sale_stock,project_stock_account|*||Sales|Sale Project - Sale Stock
sale_project_stock_account|1.0|sale_project,\
project_stock_account|*||Services/Project|Sale Project Stock Account
sale_purchase|1.0|sale,purchase|*||Hidden|Sale Purchase
sale_purchase_project|1.0|sale_purchase,project_purchase,sale_project|*||Sales|Sale Purchase Project
sale_purchase_stock|1.0|sale_stock,purchase_stock,sale_purchase|*||Hidden|MTO Sale <-> Purchase
sale_service|1.0|sale_management|||Hidden|Sales - Service
sale_sms|1.0|sale,sms|*||Hidden|Sale - SMS
sale_stock|1.0|sale,stock_account|*||Hidden|Sales and Warehouse Management
sales_team|1.1|base,mail|||Sales/Sales|Sales Teams
sms|3.0|base,iap_mail,mail,phone_validation|*||Hidden/Tools|SMS gateway
snailmail|0.4|iap_mail,mail|*||Hidden/Tools|Snail Mail
snailmail_account|0.1|account,snailmail|*||Hidden/Tools|Snail Mail - Account
social_media|0.1|base|||Hidden|Social Media
spreadsheet|1.0|bus,web,portal|||Hidden|Spreadsheet
spreadsheet_account|1.0|spreadsheet,account|*||Accounting|Spreadsheet Accounting Formulas
spreadsheet_dashboard|1.0|spreadsheet|||Productivity/Dashboard|Spreadsheet dashboard
spreadsheet_dashboard_account|1.0|spreadsheet_dashboard,\
account|account||Hidden|Spreadsheet dashboard for accounting
spreadsheet_dashboard_sale|1.0|spreadsheet_dashboard,sale|sale||Hidden|Spreadsheet dashboard for sales
spreadsheet_dashboard_stock_account|1.0|spreadsheet_dashboard,\
stock_account|stock_account||Hidden|Spreadsheet dashboard for stock
stock|1.1|product,barcodes_gs1_nomenclature,digest||app|Inventory/Inventory|Inventory
stock_account|1.1|stock,account|*||Hidden|WMS Accounting
stock_sms|1.0|stock,sms|*||Hidden|Stock - SMS
uom|1.0|base|||Sales/Sales|Units of measure
utm|1.1|base,web|||Hidden|UTM Trackers
web|1.0|base|*||Hidden|Web
web_editor|1.0|bus,web,html_editor|*||Hidden|Web Editor
web_hierarchy|1.0|web|||Hidden|Web Hierarchy
web_tour|1.0|web|*||Hidden|Tours
web_unsplash|1.1|base_setup,web_editor,html_editor|*||Hidden|Unsplash Image Library
website|1.0|digest,web,web_editor,http_routing,portal,social_media,auth_signup,mail,\
google_recaptcha,utm||app|Website/Website|Website
website_crm|2.1|website,crm|*||Website/Website|Contact Form
website_crm_sms|1.0|website_sms,crm|*||Website/Website|Send SMS to Visitor with leads
website_mail|0.1|website,mail|*||Hidden|Website Mail
website_payment|1.0|website,account_payment,portal|*||Hidden|Website Payment
website_project|1.0|website,project|*||Website/Website|Online Task Submission
website_sms|1.0|website,sms|*||Website/Website|Send SMS to Visitor
"""


def _parse(table: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for row in table.splitlines():
        name, version, depends, auto, app, category, shortdesc = row.split("|")
        auto_install: bool | tuple[str, ...] = True if auto == "*" else tuple(a for a in auto.split(",") if a)
        entries[name] = Entry(
            name=name,
            version=version,
            depends=tuple(d for d in depends.split(",") if d),
            auto_install=auto_install or False,
            application=app == "app",
            category=category,
            shortdesc=shortdesc,
        )
    return entries


BY_NAME: dict[str, Entry] = _parse(_TABLE)
