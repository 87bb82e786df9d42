-- Generation's lines priced set-based: one INSERT ... SELECT that prices the benchmark
-- customer's billable orders against its rate card (the nine lines build_rate_card creates) and
-- writes the report lines whole, as generation writes them: each with its explanation key and
-- its own detail (the tier bands it touched, the SKUs it counted, as JSON text). It is
-- generation_floor.sql with those two columns, and measures what pricing in SQL would cost
-- once the lines say why they were charged.
--
-- benchmarks/generate_vs_floor.py fills the placeholders (Python format fields): orders with
-- the SQL of the selector generation reads (billing.selectors.orders.billable_orders), report
-- with the id the lines are written under, customer, special and handled with the SKU lists of
-- the "Special handling" line and of the "SKU handling" rule, service_fee ... service_canada
-- with the service ids, and key_fee ... key_canada with the lines' explanation keys. Prices and
-- tiers are the ones build_rate_card sets; the script checks that the floor writes the same
-- lines as generation (a digest of every line), so a drift shows.
--
-- The benchmark's SKUs are already canonical (no spaces, hyphens or lower case) and need no JSON
-- escape, so SKUs are compared and written as stored, in the order of the order's lines (by SKU);
-- rules compare trimmed, case-folded text as the engine does.
WITH orders AS (
    SELECT id, close_date, transaction_id, carrier, packages, weight_lb, ship_to_country
    FROM ({orders}) AS billable (id, close_date, transaction_id, carrier, packages, weight_lb, ship_to_country)
),
units AS (
    SELECT l.order_id, l.sku, SUM(l.quantity) AS qty, p.case_size, l.sku = ANY({special}) AS special
    FROM billing_orderline AS l
    JOIN orders AS o ON o.id = l.order_id
    LEFT JOIN billing_product AS p ON p.customer_id = {customer} AND p.sku_key = l.sku
    WHERE l.quantity > 0
    GROUP BY l.order_id, l.sku, p.case_size
),
per_order AS (
    SELECT
        u.order_id,
        SUM(u.qty) AS units,
        COUNT(*) AS skus,
        COALESCE(SUM(u.qty) FILTER (WHERE u.special), 0) AS special_units,
        COALESCE(SUM(u.qty / u.case_size) FILTER (WHERE NOT u.special), 0) AS cases,
        COALESCE(
            SUM(CASE WHEN u.case_size IS NULL THEN u.qty ELSE u.qty % u.case_size END) FILTER (WHERE NOT u.special),
            0
        ) AS eaches,
        BOOL_OR(u.sku = ANY({handled})) AS handled,
        '{{"skus":[' || STRING_AGG('["' || u.sku || '",' || u.qty, '],' ORDER BY u.sku) FILTER (WHERE u.special)
            || ']]}}' AS special_detail,
        '{{"skus":[' || STRING_AGG(
            '["' || u.sku || '",' || u.qty || ',' || COALESCE(u.case_size::text, 'null') || ','
                || COALESCE(u.qty / u.case_size, 0),
            '],' ORDER BY u.sku
        ) FILTER (WHERE NOT u.special) || ']]}}' AS pick_detail
    FROM units AS u
    GROUP BY u.order_id
),
priced AS (
    SELECT
        o.id,
        LOWER(BTRIM(o.carrier)) AS carrier,
        LOWER(BTRIM(o.ship_to_country)) AS country,
        o.packages,
        o.weight_lb,
        po.*,
        -- The period's units before and after this order, in the canonical order the tiers use.
        SUM(po.units) OVER (ORDER BY o.close_date NULLS FIRST, o.transaction_id COLLATE "C", o.id) AS tier_end
    FROM orders AS o
    JOIN per_order AS po ON po.order_id = o.id
),
graduated AS (
    SELECT
        priced.*,
        ROUND(
            0.0500 * GREATEST(0, LEAST(tier_end, 100000) - (tier_end - units))
            + 0.0400 * GREATEST(0, LEAST(tier_end, 250000) - GREATEST(tier_end - units, 100000))
            + 0.0300 * GREATEST(0, tier_end - GREATEST(tier_end - units, 250000)),
            2
        ) AS tier_amount,
        -- Each band the order's units occupy: ["from","to","units","unit price","exact amount"], the
        -- bounds with the tiers' four places where a bound is one (an equal order bound is not).
        '{{"bands":[' || CONCAT_WS(
            ',',
            CASE WHEN tier_end - units < 100000 THEN
                '["' || (tier_end - units) || '","' || LEAST(100000.0000, tier_end) || '","'
                || (LEAST(100000.0000, tier_end) - (tier_end - units)) || '","0.0500","'
                || (LEAST(100000.0000, tier_end) - (tier_end - units)) * 0.0500 || '"]'
            END,
            CASE WHEN tier_end - units < 250000 AND tier_end > 100000 THEN
                '["' || GREATEST(tier_end - units, 100000.0000) || '","' || LEAST(250000.0000, tier_end) || '","'
                || (LEAST(250000.0000, tier_end) - GREATEST(tier_end - units, 100000.0000)) || '","0.0400","'
                || (LEAST(250000.0000, tier_end) - GREATEST(tier_end - units, 100000.0000)) * 0.0400 || '"]'
            END,
            CASE WHEN tier_end > 250000 THEN
                '["' || GREATEST(tier_end - units, 250000.0000) || '","' || tier_end || '","'
                || (tier_end - GREATEST(tier_end - units, 250000.0000)) || '","0.0300","'
                || (tier_end - GREATEST(tier_end - units, 250000.0000)) * 0.0300 || '"]'
            END
        ) || ']}}' AS tier_detail
    FROM priced
)
INSERT INTO billing_reportline (
    report_id, order_id, service_id, service_name, charge_type, quantity, unit_price, amount, explanation, detail
)
SELECT {report}, g.id, line.service_id, line.service_name, line.charge_type, line.quantity, line.unit_price,
       COALESCE(line.amount, ROUND(line.quantity * line.unit_price, 2)), line.explanation, line.detail
FROM graduated AS g
CROSS JOIN LATERAL (
    VALUES
        ({service_fee}, 'Bench Order fee', 'per_order', 1::numeric, 1.2500, NULL::numeric, TRUE, {key_fee}, NULL),
        ({service_special}, 'Bench Special handling', 'per_unit', g.special_units::numeric, 0.4000, NULL, TRUE,
            {key_special}, g.special_detail),
        ({service_case}, 'Bench Case pick', 'case_pick', g.cases::numeric, 0.9000, NULL, TRUE, {key_case},
            g.pick_detail),
        ({service_each}, 'Bench Each pick', 'each_pick', g.eaches::numeric, 0.1800, NULL, TRUE, {key_each},
            g.pick_detail),
        ({service_tier}, 'Bench Units (graduated)', 'tiered', g.units::numeric,
            ROUND(g.tier_amount / NULLIF(g.units, 0), 4), g.tier_amount, TRUE, {key_tier}, g.tier_detail),
        ({service_package}, 'Bench Package fee', 'per_package', g.packages::numeric, 0.7500, NULL,
            g.carrier IN ('ups', 'fedex') AND g.packages >= 1, {key_package}, NULL),
        ({service_heavy}, 'Bench Heavy order', 'per_weight_lb', g.weight_lb, 0.0600, NULL, g.weight_lb > 20,
            {key_heavy}, NULL),
        ({service_sku}, 'Bench SKU handling', 'per_sku', g.skus::numeric, 0.3500, NULL,
            g.handled AND g.country <> 'gb', {key_sku}, NULL),
        ({service_canada}, 'Bench Canada surcharge', 'per_order', 1::numeric, 3.0000, NULL, g.country = 'ca',
            {key_canada}, NULL)
) AS line (service_id, service_name, charge_type, quantity, unit_price, amount, applies, explanation, detail)
WHERE line.applies AND line.quantity > 0
