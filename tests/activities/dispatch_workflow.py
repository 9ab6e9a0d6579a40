"""A test-only workflow that dispatches one referral with a short retry policy."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.referrals import DispatchReceipt, ReferralActivities, ReferralDispatch

TEST_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(milliseconds=50),
    backoff_coefficient=1.0,
    maximum_attempts=5,
)


@workflow.defn(name="DispatchReferralForTest")
class DispatchReferralWorkflow:
    @workflow.run
    async def run(self, dispatch: ReferralDispatch) -> DispatchReceipt:
        return await workflow.execute_activity_method(
            ReferralActivities.dispatch_referral,
            dispatch,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=TEST_RETRY_POLICY,
        )
