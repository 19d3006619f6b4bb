"""A catalog of 120 tools in 12 domains (the domain is each tool's tag), written as a real server's would be,
and a fixed set of queries a model might send to find_tools, each with the tool it should find.

The queries were written after the catalog, in other words than the tools' names where a person would use
other words ("merge request" for a pull request, "wipe" for delete), so that the ranking is tested on more
than copying a name back."""

from __future__ import annotations

import json
import textwrap
from typing import Any

# domain -> [(name, description, argument names)]
DOMAINS: dict[str, list[tuple[str, str, list[str]]]] = {
    "github": [
        ("gh_create_issue", "Open a new issue in a GitHub repository with a title and body.",
         ["repo", "title", "body"]),
        ("gh_close_issue", "Close an open GitHub issue.", ["repo", "number"]),
        ("gh_list_issues", "List the issues of a repository, filtered by state and label.", ["repo", "state", "label"]),
        ("gh_comment_issue", "Add a comment to an issue or pull request.", ["repo", "number", "body"]),
        ("gh_create_pull_request", "Open a pull request from a branch into the base branch.",
         ["repo", "head", "base", "title"]),
        ("gh_merge_pull_request", "Merge a pull request once checks pass.", ["repo", "number", "method"]),
        ("gh_review_pull_request", "Approve or request changes on a pull request.", ["repo", "number", "verdict"]),
        ("gh_list_branches", "List the branches of a repository.", ["repo"]),
        ("gh_search_code", "Search source code across repositories for a string.", ["query", "language"]),
        ("gh_get_file", "Read one file of a repository at a commit or branch.", ["repo", "path", "ref"]),
    ],
    "calendar": [
        ("cal_create_event", "Schedule a calendar event with attendees at a date and time.",
         ["title", "start", "end", "attendees"]),
        ("cal_cancel_event", "Cancel a calendar event and notify its attendees.", ["event_id"]),
        ("cal_list_events", "List upcoming calendar events between two dates.", ["start", "end"]),
        ("cal_find_free_slot", "Find a time when all the given people are free for a meeting.",
         ["people", "duration"]),
        ("cal_reschedule_event", "Move an existing event to another time.", ["event_id", "start"]),
        ("cal_invite_attendee", "Add a person to the guest list of an event.", ["event_id", "email"]),
        ("cal_set_reminder", "Set a reminder before an event starts.", ["event_id", "minutes"]),
        ("cal_list_calendars", "List the calendars the user can see.", []),
        ("cal_share_calendar", "Share a calendar with a colleague, read-only or editable.", ["calendar", "email"]),
        ("cal_set_out_of_office", "Mark the user out of office for a holiday or vacation period.",
         ["start", "end", "message"]),
    ],
    "email": [
        ("mail_send", "Send an email message to recipients with a subject and body.", ["to", "subject", "body"]),
        ("mail_reply", "Reply to an email thread.", ["thread_id", "body"]),
        ("mail_forward", "Forward an email to other recipients.", ["message_id", "to"]),
        ("mail_search", "Search the mailbox for messages matching words, sender or date.", ["query"]),
        ("mail_read", "Read the full text of one email message.", ["message_id"]),
        ("mail_archive", "Archive an email so it leaves the inbox.", ["message_id"]),
        ("mail_label", "Apply a label or folder to email messages.", ["message_id", "label"]),
        ("mail_draft", "Save an email draft without sending it.", ["to", "subject", "body"]),
        ("mail_list_unread", "List unread messages in the inbox.", ["limit"]),
        ("mail_unsubscribe", "Unsubscribe from a mailing list or newsletter sender.", ["sender"]),
    ],
    "files": [
        ("fs_read_file", "Read the contents of a text file from disk.", ["path"]),
        ("fs_write_file", "Write text to a file, creating or overwriting it.", ["path", "content"]),
        ("fs_delete_file", "Delete a file from disk permanently.", ["path"]),
        ("fs_list_directory", "List the files and folders inside a directory.", ["path"]),
        ("fs_move_file", "Move or rename a file.", ["source", "destination"]),
        ("fs_copy_file", "Copy a file to another location.", ["source", "destination"]),
        ("fs_find_files", "Find files whose names match a glob pattern.", ["pattern", "root"]),
        ("fs_file_info", "Show size, owner and modification time of a file.", ["path"]),
        ("fs_compress", "Compress files into a zip archive.", ["paths", "archive"]),
        ("fs_extract", "Extract a zip or tar archive into a folder.", ["archive", "destination"]),
    ],
    "database": [
        ("db_query", "Run a read-only SQL SELECT query against the database.", ["sql"]),
        ("db_execute", "Execute a SQL statement that changes data (insert, update, delete).", ["sql"]),
        ("db_list_tables", "List the tables of the database schema.", ["schema"]),
        ("db_describe_table", "Show the columns and types of a table.", ["table"]),
        ("db_explain", "Show the query plan of a SQL query to tune its performance.", ["sql"]),
        ("db_backup", "Take a backup snapshot of the database.", ["label"]),
        ("db_restore", "Restore the database from a backup snapshot.", ["snapshot"]),
        ("db_create_index", "Create an index on table columns to speed up lookups.", ["table", "columns"]),
        ("db_migrate", "Apply pending schema migrations.", ["target"]),
        ("db_slow_queries", "List the slowest queries recently run.", ["limit"]),
    ],
    "weather": [
        ("wx_current", "Current weather conditions (temperature, wind, humidity) for a city.", ["city"]),
        ("wx_forecast", "Weather forecast for the next days for a city.", ["city", "days"]),
        ("wx_alerts", "Severe weather warnings (storms, floods) active in a region.", ["region"]),
        ("wx_air_quality", "Air quality index and pollution levels for a city.", ["city"]),
        ("wx_uv_index", "Ultraviolet (UV) index and sunburn risk for a place.", ["city"]),
        ("wx_sunrise", "Sunrise and sunset times for a place and date.", ["city", "date"]),
        ("wx_historical", "Past weather observations for a city on a date.", ["city", "date"]),
        ("wx_radar", "Precipitation radar map image for a region.", ["region"]),
        ("wx_pollen", "Pollen count and allergy forecast for a city.", ["city"]),
        ("wx_marine", "Marine forecast: waves, tides and sea temperature.", ["coast"]),
    ],
    "billing": [
        ("bill_create_invoice", "Create an invoice for a customer with line items.", ["customer", "items"]),
        ("bill_send_invoice", "Email an invoice to the customer.", ["invoice_id"]),
        ("bill_refund", "Refund a payment fully or partly.", ["payment_id", "amount"]),
        ("bill_list_payments", "List payments received in a period.", ["start", "end"]),
        ("bill_subscription_cancel", "Cancel a customer's subscription plan.", ["subscription_id"]),
        ("bill_subscription_change", "Upgrade or downgrade a customer's subscription plan.",
         ["subscription_id", "plan"]),
        ("bill_apply_coupon", "Apply a discount coupon code to an order.", ["order_id", "code"]),
        ("bill_tax_rate", "Look up the sales tax or VAT rate for an address.", ["country", "postal_code"]),
        ("bill_overdue", "List unpaid invoices past their due date.", []),
        ("bill_revenue_report", "Monthly recurring revenue and churn report.", ["month"]),
    ],
    "docs": [
        ("docs_search", "Search the product documentation for a topic.", ["query"]),
        ("docs_get_page", "Fetch one documentation page by its path.", ["path"]),
        ("docs_create_page", "Write a new documentation page.", ["path", "content"]),
        ("docs_update_page", "Edit an existing documentation page.", ["path", "content"]),
        ("docs_list_pages", "List the pages of a documentation section.", ["section"]),
        ("docs_translate", "Translate a documentation page into another language.", ["path", "language"]),
        ("docs_spellcheck", "Check a page for spelling and grammar mistakes.", ["path"]),
        ("docs_broken_links", "Find broken links in the documentation.", []),
        ("docs_changelog", "Add an entry to the release notes changelog.", ["version", "entry"]),
        ("docs_publish", "Publish the documentation site.", []),
    ],
    "chat": [
        ("chat_post_message", "Post a message to a Slack channel.", ["channel", "text"]),
        ("chat_list_channels", "List the chat channels of the workspace.", []),
        ("chat_create_channel", "Create a new chat channel.", ["name", "private"]),
        ("chat_invite_user", "Invite a user into a chat channel.", ["channel", "user"]),
        ("chat_search_messages", "Search chat history for messages.", ["query"]),
        ("chat_react", "Add an emoji reaction to a chat message.", ["channel", "timestamp", "emoji"]),
        ("chat_set_status", "Set the user's chat status text and emoji.", ["text", "emoji"]),
        ("chat_direct_message", "Send a private direct message to one person.", ["user", "text"]),
        ("chat_pin_message", "Pin a message in a channel.", ["channel", "timestamp"]),
        ("chat_archive_channel", "Archive a chat channel nobody uses.", ["channel"]),
    ],
    "deploy": [
        ("deploy_release", "Deploy a release version to an environment such as staging or production.",
         ["version", "environment"]),
        ("deploy_rollback", "Roll back an environment to the previous release.", ["environment"]),
        ("deploy_status", "Show which version runs in each environment.", []),
        ("deploy_scale", "Scale a service to a number of replicas.", ["service", "replicas"]),
        ("deploy_restart", "Restart the pods of a service.", ["service"]),
        ("deploy_logs", "Tail the logs of a service's containers.", ["service", "lines"]),
        ("deploy_set_env", "Set an environment variable of a service.", ["service", "name", "value"]),
        ("deploy_build_image", "Build a container image from the repository.", ["ref"]),
        ("deploy_pipeline_run", "Start the CI pipeline for a branch.", ["branch"]),
        ("deploy_feature_flag", "Turn a feature flag on or off.", ["flag", "enabled"]),
    ],
    "monitoring": [
        ("mon_list_alerts", "List the firing monitoring alerts.", ["severity"]),
        ("mon_ack_alert", "Acknowledge an alert so the on-call stops being paged.", ["alert_id"]),
        ("mon_query_metric", "Query a time series metric such as CPU or latency.", ["metric", "range"]),
        ("mon_create_dashboard", "Create a dashboard with charts.", ["title", "panels"]),
        ("mon_silence", "Silence alerts matching labels during maintenance.", ["matchers", "duration"]),
        ("mon_on_call", "Who is on call now for a team.", ["team"]),
        ("mon_incident_open", "Open an incident and page the responders.", ["title", "severity"]),
        ("mon_incident_resolve", "Resolve an incident with a summary.", ["incident_id", "summary"]),
        ("mon_uptime", "Uptime percentage of a service over a period.", ["service", "period"]),
        ("mon_error_rate", "Error rate of a service's requests.", ["service"]),
    ],
    "crm": [
        ("crm_create_contact", "Add a contact person to the CRM.", ["name", "email", "company"]),
        ("crm_find_contact", "Look up a contact by name or email.", ["query"]),
        ("crm_update_contact", "Change a contact's details.", ["contact_id", "fields"]),
        ("crm_create_deal", "Create a sales deal in the pipeline.", ["name", "amount", "stage"]),
        ("crm_move_deal", "Move a deal to another pipeline stage.", ["deal_id", "stage"]),
        ("crm_log_call", "Log a phone call with a customer.", ["contact_id", "notes"]),
        ("crm_list_deals", "List open sales deals by stage.", ["stage"]),
        ("crm_company_info", "Show a company's account details.", ["company"]),
        ("crm_assign_owner", "Assign an account owner to a company.", ["company", "owner"]),
        ("crm_forecast", "Sales forecast for the quarter.", ["quarter"]),
    ],
}

TOOLS: list[tuple[str, str, str, list[str]]] = [
    (name, domain, description, args) for domain, entries in DOMAINS.items() for name, description, args in entries
]
assert len(TOOLS) == 120 and len({t[0] for t in TOOLS}) == 120

# (query, the tool it should find first)
QUERIES: list[tuple[str, str]] = [
    ("open a new github issue", "gh_create_issue"),
    ("merge the pull request", "gh_merge_pull_request"),
    ("approve a merge request", "gh_review_pull_request"),
    ("grep source code for a function name", "gh_search_code"),
    ("schedule a meeting with the team tomorrow", "cal_create_event"),
    ("when is everyone free for an hour", "cal_find_free_slot"),
    ("I will be on vacation next week", "cal_set_out_of_office"),
    ("move my 3pm meeting to friday", "cal_reschedule_event"),
    ("send an email to alice", "mail_send"),
    ("show unread mail", "mail_list_unread"),
    ("stop getting this newsletter", "mail_unsubscribe"),
    ("find emails from bob about the contract", "mail_search"),
    ("rename a file", "fs_move_file"),
    ("wipe a file from disk", "fs_delete_file"),
    ("unzip an archive", "fs_extract"),
    ("what files are in this folder", "fs_list_directory"),
    ("run a sql select", "db_query"),
    ("why is my query slow, show the plan", "db_explain"),
    ("which columns does the users table have", "db_describe_table"),
    ("snapshot the database before the upgrade", "db_backup"),
    ("will it rain in Paris this weekend", "wx_forecast"),
    ("temperature in Berlin right now", "wx_current"),
    ("is there a storm warning", "wx_alerts"),
    ("smog and pollution levels", "wx_air_quality"),
    ("give the customer their money back", "bill_refund"),
    ("who has not paid their invoice", "bill_overdue"),
    ("upgrade the customer to the pro plan", "bill_subscription_change"),
    ("VAT rate in Germany", "bill_tax_rate"),
    ("search the documentation for authentication", "docs_search"),
    ("translate the getting started page to French", "docs_translate"),
    ("check the docs for dead links", "docs_broken_links"),
    ("post in the slack channel", "chat_post_message"),
    ("DM a colleague privately", "chat_direct_message"),
    ("deploy version 2.1 to production", "deploy_release"),
    ("undo the last deploy", "deploy_rollback"),
    ("add more replicas to the api service", "deploy_scale"),
    ("show the container logs", "deploy_logs"),
    ("who is on call for the payments team", "mon_on_call"),
    ("stop paging me about this alert", "mon_ack_alert"),
    ("mute alerts during maintenance", "mon_silence"),
    ("cpu usage over the last hour", "mon_query_metric"),
    ("add a new customer contact", "crm_create_contact"),
    ("move the deal to negotiation stage", "crm_move_deal"),
    ("log my phone call with the client", "crm_log_call"),
    ("sales forecast for this quarter", "crm_forecast"),
]


def config_text(toolsets: str) -> str:
    """The 120 tools as static tools (each answers "ran NAME"), tagged by domain, with `toolsets` appended."""
    lines = ["version: 1", "tools:"]
    for name, domain, description, args in TOOLS:
        props = ", ".join(f"{a}: {{type: string, description: The {a.replace('_', ' ')}.}}" for a in args)
        schema = f", input: {{type: object, properties: {{{props}}}}}" if args else ""
        lines.append(f"  {name}: {{kind: static, content: 'ran {name}', tags: [{domain}], "
                     f"description: {json.dumps(description)}{schema}}}")
    return "\n".join(lines) + "\n" + textwrap.dedent(toolsets)


def expected(name: str) -> str:
    return f"ran {name}"


def text_of(result: Any) -> str:
    assert not result.is_error, result.content
    return "".join(block.text for block in result.content if block.type == "text")
