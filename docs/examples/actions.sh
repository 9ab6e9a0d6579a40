#!/bin/sh
# A plan's actions from the command line (issue 16): each belongs to a goal of the plan,
# has an owner, a due date and a status (open, overdue, done, dropped with a reason).
# Run as the case's worker (casework login j.morales) once the plan is approved; CASE is
# the case id. Dates are days (due at 23:59 UTC) or ISO times with an offset.
set -eu
CASE=${1:?usage: actions.sh CASE_ID}

# The client brings their documents; the sister goes with them; the worker phones the
# shelter, an action of the crisis plan: left overdue it escalates like a lapsed review.
casework case action add "$CASE" --goal goal-housing --owner client \
    --due 2026-12-04 --description "Bring ID documents to the housing office"
casework case action add "$CASE" --goal goal-housing --owner "family=Ines (sister)" \
    --due 2026-12-11 --description "Go with Marguerite to the Quay St viewing"
casework case action add "$CASE" --goal goal-housing --owner caseworker --crisis-plan \
    --due 2026-12-02T17:00:00+00:00 --description "Phone the night shelter about a bed"
# Another worker may own one (and mark it done); a provider too (--owner provider=ID).
casework case action add "$CASE" --goal goal-housing --owner worker=s.patel \
    --due 2026-12-09 --description "Ask the landlord liaison about the deposit scheme"

casework actions mine                      # my open actions due this week, overdue first
casework case action done "$CASE" action-1 --note "brought passport and letters"
casework case action drop "$CASE" action-2 --reason "the viewing was cancelled"
casework case action reassign "$CASE" action-3 --owner worker=s.patel \
    --due 2026-12-03 --reason "covering while j.morales is on leave"
casework case show "$CASE" --json | jq '.actions'   # each action, its goal and status

# A supervisor's view of their team (a manager sees every team):
casework actions overdue                   # overdue actions, the oldest due first
casework actions overdue --by-team         # how many per team, and of a crisis plan
