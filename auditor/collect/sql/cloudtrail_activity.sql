-- One pass over the window's partitions: what attribution needs of each record, grouped, and what was read.
-- Rows of part 'activity': the record fields auditor.collect.cloudtrail_events.attribute reads, grouped, with
-- the first and last eventtime inside the window and how many records fell inside it. A field is kept only
-- where attribution reads it (an AKIA key; a role session's ARN only for Identity Center's reserved roles,
-- whose session name is the user; the event name and source only as far as they are compared; an error
-- code only as present or not), so the groups stay few: about one per principal and kind of event. A
-- sign-in's steps may name the user on one step only and are joined within one log object, as the S3
-- reader joins them: sign-in rows keep their object ("batch") and are kept outside the window too, for the
-- user names they carry.
-- The same rows carry what right-sizing and the lifecycle rules read, without a second pass: a successful
-- call's event source, name and resources (S3 object ARNs cut to their bucket's objects, as the S3 reader
-- scopes them), and, for the few events that change access ({change_events}), the event itself: its time,
-- source, account, caller ARN and its request and response elements as JSON text.
-- Rows of part 'coverage': per account and region, the log objects read (their delivery times from the
-- file name, else the day folder's midnight), their records, and the largest spacing between the
-- account's deliveries.
-- Athena (Trino) evaluates a WITH query again at each reference, scanning its table again and billing the
-- bytes again, so each named query here is referenced once: both kinds of rows come out of one grouping
-- (GROUPING SETS), twice, and the table is read once.
WITH records AS (
    SELECT
        account,
        region,
        "$path" AS object_path,
        "timestamp" AS day,
        eventtime,
        eventtime BETWEEN {start} AND {end} AS in_window,
        eventtime BETWEEN {start} AND {end} OR eventsource = 'signin.amazonaws.com' AS kept,
        CASE WHEN eventsource IN (
                'signin.amazonaws.com', 'sso.amazonaws.com', 'sso-oauth.amazonaws.com', 'sts.amazonaws.com')
            THEN eventsource ELSE 'other' END AS event_source,
        CASE WHEN eventname IN (
                'UserAuthentication', 'Authenticate', 'GetRoleCredentials',
                'AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
            THEN eventname END AS event_name,
        CASE WHEN useridentity.type IN ('IAMUser', 'Root') THEN recipientaccountid END AS recipient_account,
        CASE WHEN errorcode <> '' THEN 'error' END AS error_code,
        useridentity.type AS identity_type,
        CASE WHEN useridentity.type = 'AssumedRole' AND NOT (
                regexp_like(coalesce(useridentity.sessioncontext.sessionissuer.arn, ''), ':role/')
                AND NOT regexp_like(useridentity.sessioncontext.sessionissuer.arn, '/AWSReservedSSO_[^/]*$'))
            THEN useridentity.principalid END AS principal_id,
        CASE WHEN useridentity.type = 'AssumedRole'
                AND regexp_like(coalesce(useridentity.sessioncontext.sessionissuer.arn, ''), ':role/')
                AND NOT regexp_like(useridentity.sessioncontext.sessionissuer.arn, '/AWSReservedSSO_[^/]*$')
            THEN NULL ELSE useridentity.arn END AS identity_arn,
        useridentity.accountid AS identity_account,
        CASE WHEN useridentity.accesskeyid LIKE 'AKIA%' THEN useridentity.accesskeyid END AS access_key_id,
        useridentity.username AS user_name,
        useridentity.onbehalfof.userid AS on_behalf_of,
        useridentity.sessioncontext.sessionissuer.type AS issuer_type,
        useridentity.sessioncontext.sessionissuer.arn AS issuer_arn,
        useridentity.sessioncontext.sessionissuer.accountid AS issuer_account,
        useridentity.sessioncontext.sessionissuer.username AS issuer_user_name,
        CASE WHEN eventsource = 'sts.amazonaws.com'
            THEN json_extract_scalar(requestparameters, '$.roleArn') END AS role_arn,
        CASE WHEN eventsource = 'sts.amazonaws.com' AND regexp_like(
                coalesce(json_extract_scalar(requestparameters, '$.roleArn'), ''), '/AWSReservedSSO_[^/]*$')
            THEN json_extract_scalar(requestparameters, '$.roleSessionName') END AS role_session_name,
        CASE WHEN eventname = 'GetRoleCredentials'
            THEN json_extract_scalar(requestparameters, '$.roleName') END AS role_name,
        CASE WHEN eventname = 'GetRoleCredentials'
            THEN json_extract_scalar(requestparameters, '$.accountId') END AS role_account,
        CASE WHEN eventname IN ('GetRoleCredentials', 'UserAuthentication')
            THEN json_extract_scalar(serviceeventdetails, '$.UserAuthentication') END AS user_authentication,
        CASE WHEN eventname = 'GetRoleCredentials'
            THEN json_extract_scalar(serviceeventdetails, '$.role_name') END AS details_role_name,
        CASE WHEN eventname = 'GetRoleCredentials'
            THEN json_extract_scalar(serviceeventdetails, '$.account_id') END AS details_account,
        CASE WHEN eventsource = 'signin.amazonaws.com'
            THEN json_extract_scalar(additionaleventdata, '$.AuthWorkflowID') END AS auth_workflow,
        CASE WHEN eventsource = 'signin.amazonaws.com'
            THEN json_extract_scalar(additionaleventdata, '$.UserName') END AS workflow_user_name,
        CASE WHEN eventsource = 'signin.amazonaws.com' AND 'Failure' IN (
                coalesce(json_extract_scalar(responseelements, '$.ConsoleLogin'), ''),
                coalesce(json_extract_scalar(responseelements, '$.CheckMfa'), ''),
                coalesce(json_extract_scalar(responseelements, '$.ExternalIdPDirectoryLogin'), ''),
                coalesce(json_extract_scalar(responseelements, '$.PasswordUpdated'), ''),
                coalesce(json_extract_scalar(responseelements, '$.SwitchRole'), ''))
            THEN 'Failure' END AS sign_in_outcome,
        CASE WHEN eventsource = 'signin.amazonaws.com' THEN "$path" END AS batch,
        CASE WHEN coalesce(errorcode, '') = '' THEN eventsource END AS call_source,
        CASE WHEN coalesce(errorcode, '') = '' THEN eventname END AS call_name,
        CASE WHEN coalesce(errorcode, '') = '' THEN json_format(CAST(transform(resources, r -> CASE
                WHEN regexp_like(r.arn, '^arn:aws(-cn|-us-gov)?:s3:::[^/]*/') THEN regexp_extract(r.arn, '^[^/]*') || '/*'
                ELSE r.arn END) AS JSON)) END AS call_resources,
        CASE WHEN eventname IN ({change_events}) THEN eventtime END AS change_time,
        CASE WHEN eventname IN ({change_events}) THEN eventname END AS change_name,
        CASE WHEN eventname IN ({change_events}) THEN eventsource END AS change_source,
        CASE WHEN eventname IN ({change_events}) THEN recipientaccountid END AS change_account,
        CASE WHEN eventname IN ({change_events}) THEN useridentity.arn END AS change_actor_arn,
        CASE WHEN eventname IN ({change_events}) THEN errorcode END AS change_error,
        CASE WHEN eventname IN ({change_events}) THEN requestparameters END AS change_request,
        CASE WHEN eventname IN ({change_events}) THEN responseelements END AS change_response
    FROM {table}
    WHERE account IN ({accounts}) AND "timestamp" BETWEEN {first_day} AND {last_day}
),
grouped AS (
    -- the one pass: records grouped two ways at once, by what attribution reads and by log object
    SELECT
        grouping(object_path) AS by_record,
        kept,
        batch, event_source, event_name, recipient_account, error_code, identity_type, principal_id, identity_arn,
    identity_account, access_key_id, user_name, on_behalf_of, issuer_type, issuer_arn, issuer_account,
    issuer_user_name, role_arn, role_session_name, role_name, role_account, user_authentication,
    details_role_name, details_account, auth_workflow, workflow_user_name, sign_in_outcome,
    call_source, call_name, call_resources, change_time, change_name, change_source, change_account, change_actor_arn,
    change_error, change_request, change_response,
        account,
        region,
        coalesce(
            regexp_extract(object_path, '_([0-9]{{8}}T[0-9]{{4}}Z)_[^/]*$', 1),
            replace(day, '/', '') || 'T0000Z') AS delivered,
        min(CASE WHEN in_window THEN eventtime END) AS seen_first,
        max(CASE WHEN in_window THEN eventtime END) AS seen_last,
        sum(CASE WHEN in_window THEN 1 ELSE 0 END) AS seen_events,
        count(*) AS object_records
    FROM records
    GROUP BY GROUPING SETS (
        (kept, batch, event_source, event_name, recipient_account, error_code, identity_type, principal_id, identity_arn,
    identity_account, access_key_id, user_name, on_behalf_of, issuer_type, issuer_arn, issuer_account,
    issuer_user_name, role_arn, role_session_name, role_name, role_account, user_authentication,
    details_role_name, details_account, auth_workflow, workflow_user_name, sign_in_outcome,
    call_source, call_name, call_resources, change_time, change_name, change_source, change_account, change_actor_arn,
    change_error, change_request, change_response),
        (account, region, object_path, day))
),
spacing AS (
    SELECT
        *,
        date_diff('second',
            lag(date_parse(delivered, '%Y%m%dT%H%iZ')) OVER (PARTITION BY by_record, account ORDER BY delivered),
            date_parse(delivered, '%Y%m%dT%H%iZ')) AS seconds_since_previous
    FROM grouped
)
SELECT
    CASE WHEN grouping(account) = 0 THEN 'coverage' ELSE 'activity' END AS part,
    account, region, batch, event_source, event_name, recipient_account, error_code, identity_type, principal_id, identity_arn,
    identity_account, access_key_id, user_name, on_behalf_of, issuer_type, issuer_arn, issuer_account,
    issuer_user_name, role_arn, role_session_name, role_name, role_account, user_authentication,
    details_role_name, details_account, auth_workflow, workflow_user_name, sign_in_outcome,
    call_source, call_name, call_resources, change_time, change_name, change_source, change_account, change_actor_arn,
    change_error, change_request, change_response,
    CASE WHEN grouping(account) = 0 THEN min(delivered) ELSE seen_first END AS first_seen,
    CASE WHEN grouping(account) = 0 THEN max(delivered) ELSE seen_last END AS last_seen,
    CASE WHEN grouping(account) = 0 THEN sum(seen_events) ELSE seen_events END AS events,
    CASE WHEN grouping(account) = 0 THEN count(*) END AS objects,
    CASE WHEN grouping(account) = 0 THEN sum(object_records) END AS records,
    CASE WHEN grouping(account) = 0 THEN max(seconds_since_previous) END AS largest_gap_seconds
FROM spacing
GROUP BY GROUPING SETS (
    (by_record, kept, batch, event_source, event_name, recipient_account, error_code, identity_type, principal_id, identity_arn,
    identity_account, access_key_id, user_name, on_behalf_of, issuer_type, issuer_arn, issuer_account,
    issuer_user_name, role_arn, role_session_name, role_name, role_account, user_authentication,
    details_role_name, details_account, auth_workflow, workflow_user_name, sign_in_outcome,
    call_source, call_name, call_resources, change_time, change_name, change_source, change_account, change_actor_arn,
    change_error, change_request, change_response, seen_first, seen_last, seen_events),
    (by_record, account, region))
-- each row grouped the way its kind is read: records by attribution (in the window, or a sign-in),
-- log objects by account and region
HAVING (grouping(account) = 1 AND by_record = 1 AND kept) OR (grouping(account) = 0 AND by_record = 0)
