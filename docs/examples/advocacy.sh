#!/bin/sh
# Advocacy on the client's behalf and the client's own feedback (issue 16).
# Run as the case's worker (casework login j.morales); CASE is the case id. Dates are
# days: an open advocacy whose next step's date has passed with nothing recorded is
# followed up the next day and escalates up the ladder like an unanswered referral (a
# hold pauses it). The details, next steps, a consenting guardian's name and the
# client's words are personal data: sealed in the log, erased by `client forget`.
set -eu
CASE=${1:?usage: advocacy.sh CASE_ID}

# The client's housing benefit was stopped: ask for a mandatory reconsideration.
casework case advocacy open "$CASE" --barrier benefit_stopped \
    --organisation "Department for Work and Pensions" --action request \
    --consent-by client --details "Stopped after a letter went to the old address" \
    --next-step "Reconsideration decision" --next-step-date 2026-12-11
# Reconsideration refused: appeal, and represent the client at the hearing.
casework case advocacy step "$CASE" advocacy-1 --action appeal \
    --note "Reconsideration upheld the stop; appeal lodged" \
    --next-step "Tribunal hearing" --next-step-date 2027-01-20
casework case advocacy step "$CASE" advocacy-1 --action hearing \
    --next-step "Written decision" --next-step-date 2027-02-03
casework case advocacy outcome "$CASE" advocacy-1 --outcome resolved \
    --note "Benefit reinstated with back pay"
# A guardian's consent names the guardian:
casework case advocacy open "$CASE" --barrier waiting_list \
    --organisation "City housing register" --action complaint \
    --consent-by guardian --consent-name "Martha Okonkwo" \
    --next-step "Reply to the complaint" --next-step-date 2026-12-18

# The client's feedback: on their plan (at each revision: do they agree?), on a
# referral, on a provider's service.
casework case feedback "$CASE" --on plan --rating 4 --agrees --words "Housing first, yes"
casework case feedback "$CASE" --on referral --referral referral-1 --rating 2 \
    --words "Nobody called me back for two weeks"
casework case feedback "$CASE" --on service --provider food-bank --service parcels \
    --rating 5

casework case show "$CASE" --json | jq '.advocacy'

# An agency's view (a supervisor: their team; a manager: every team): advocacy by
# barrier and outcome per team — how many benefit stops were overturned on appeal this
# quarter — and the providers its clients rate poorly, the lowest first.
casework outcomes --since 2026-10-01 --until 2027-01-01
casework outcomes --json | jq '.advocacy, .feedback'
