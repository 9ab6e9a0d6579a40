#!/bin/sh
# The client's circle of support and a case conference from the command line (issue 16):
# the people and professionals around the client, what the client consents to share
# with each (nothing is shared beyond it), a conference that agrees actions, and a plan
# made with them. Run as the case's worker (casework login j.morales); CASE is the case
# id. Names and contact details of the circle are the client's personal data: sealed in
# the log with the client's key, erased when the client is forgotten.
set -eu
CASE=${1:?usage: circle.sh CASE_ID}

casework case circle add "$CASE" --role family_member --name "Ines Okonkwo-Baird" \
    --relationship "younger sister" --phone 555-0123            # member-1
casework case circle add "$CASE" --role gp --name "Dr Achebe" \
    --organisation "Quayside Practice"                           # member-2
casework case circle consent "$CASE" member-1 --share plan --share conference_decisions
# The plan, made with the sister and the supervisor taking part:
casework case plan "$CASE" docs/examples/plan.yaml --participant member-1 --participant s.patel

# Once the plan is approved: a case conference (anyone of the team may record it). Each
# --action is GOAL:DUE:OWNER:DESCRIPTION and becomes an action of the goal.
casework case conference record "$CASE" --held-on "$(date -u +%F)" \
    --participant client --participant j.morales --participant s.patel \
    --participant member-1 --decision "Ines goes with Marguerite to the viewings" \
    --action "goal-housing:$(date -u -d '+14 days' +%F):family=Ines (sister):Go to the Quay St viewing"
# or the whole conference from a file: --file docs/examples/conference.yaml

casework case circle share "$CASE" member-1 --item plan --item conference_decisions
casework case circle share "$CASE" member-2 --item plan || echo "refused: no consent for member-2"
casework case circle update "$CASE" member-2 --phone 555-0188
casework case circle remove "$CASE" member-2 --reason "changed GP"
casework case circle list "$CASE"          # the circle, consent, conferences
casework case conference list --within 30  # the conferences of the cases you see (no names)
