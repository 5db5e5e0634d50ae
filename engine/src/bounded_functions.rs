//! Functions that build more than they read, bounded before they build it.
//!
//! DataFusion's memory pool counts what operators hold (hash tables, sorts), not the values a
//! scalar function returns. `repeat('x', 800000000)`, `lpad('', 800000000)`, `range(300000000)`
//! or a chain of `replace` each build gigabytes in one call, outside every tenant's pool: three
//! such queries at once take the process down. Each of these functions is registered wrapped:
//! before it runs, the wrapper works out from its arguments how many bytes it may build for the
//! batch, and refuses past the tenant's `max_function_output_mb` with "resources exhausted".
//! Functions whose output is at most a few times their input (`upper`, `concat`, `translate`,
//! …) are left alone: their input already lives within the limits.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, FieldRef, Int64Type, TimeUnit, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateDefaults;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, StructFieldMapping,
};
use datafusion::prelude::SessionContext;
use model::Limits;

/// The upper bound of the bytes one call builds, from its arguments and the batch's rows.
type Bound = fn(&[ColumnarValue], usize) -> Result<u128>;

/// The functions wrapped, with how each one's output is bounded.
const BOUNDED: [(&str, Bound); 9] = [
    ("repeat", repeat_bound),
    ("lpad", pad_bound),
    ("rpad", pad_bound),
    ("replace", replace_bound),
    ("regexp_replace", regexp_replace_bound),
    ("range", range_bound),
    ("generate_series", range_bound),
    ("array_repeat", array_repeat_bound),
    ("array_resize", array_resize_bound),
];

/// Replaces the functions of [`BOUNDED`] in `ctx` with versions that refuse to build more than
/// `limits.max_function_output_mb` in one call. A function the context does not have is
/// skipped (DataFusion without that feature).
pub fn bound_functions(ctx: &SessionContext, limits: &Limits) -> Result<()> {
    let max_bytes = u128::from(limits.max_function_output_mb) * 1024 * 1024;
    for (name, bound) in BOUNDED {
        let Ok(inner) = ctx.udf(name) else { continue };
        // Registering the same wrapper again (a cached session) keeps one layer.
        let inner = match inner.inner().downcast_ref::<Bounded>() {
            Some(bounded) => bounded.inner.clone(),
            None => inner,
        };
        ctx.register_udf(ScalarUDF::new_from_impl(Bounded {
            inner,
            bound,
            max_bytes,
        }));
    }
    Ok(())
}

/// The byte bound `udf` was registered with, when it is one of [`BOUNDED`]'s wrappers: what a
/// plan sent to a cluster carries beside the function's name (see [`crate::cluster`]).
pub(crate) fn bound_of(udf: &ScalarUDF) -> Option<u128> {
    udf.inner().downcast_ref::<Bounded>().map(|b| b.max_bytes)
}

/// The wrapper [`bound_functions`] registers for `name`, refusing past `max_bytes`, around
/// DataFusion's own function of that name: how an executor rebuilds a bounded function it
/// received. `None` when `name` is not bounded, or DataFusion has no such function.
pub(crate) fn bounded(name: &str, max_bytes: u128) -> Option<Arc<ScalarUDF>> {
    let (_, bound) = BOUNDED.iter().find(|(n, _)| *n == name)?;
    let inner = SessionStateDefaults::default_scalar_functions()
        .into_iter()
        .find(|f| f.name() == name)?;
    Some(Arc::new(ScalarUDF::new_from_impl(Bounded {
        inner,
        bound: *bound,
        max_bytes,
    })))
}

/// A function that first checks how much it may build (see the module's comment).
#[derive(Debug)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    bound: Bound,
    max_bytes: u128,
}

// The bound follows from the function (its name), so it takes no part in equality; function
// pointers are not reliably comparable anyway.
impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && self.max_bytes == other.max_bytes
    }
}

impl Eq for Bounded {}

impl std::hash::Hash for Bounded {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
        self.max_bytes.hash(state);
    }
}

#[warn(clippy::missing_trait_methods)] // Delegates: every method but `invoke_with_args`.
impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[allow(deprecated)]
    fn display_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().display_name(args)
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.inner().return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.inner().return_field_from_args(args)
    }

    #[allow(deprecated)]
    fn is_nullable(&self, args: &[Expr], schema: &dyn datafusion::common::ExprSchema) -> bool {
        self.inner.inner().is_nullable(args, schema)
    }

    fn is_strict(&self) -> bool {
        self.inner.inner().is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // All-scalar arguments build one value, whatever the batch's length.
        let rows = if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            1
        } else {
            args.number_rows
        };
        let bytes = (self.bound)(&args.args, rows)?;
        if bytes > self.max_bytes {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}() would build up to {} bytes for {rows} row(s), more than this tenant's limit of \
                 {} MiB for one function call (max_function_output_mb)",
                self.inner.name(),
                bytes,
                self.max_bytes / (1024 * 1024)
            )));
        }
        self.inner.invoke_with_args(args)
    }

    fn with_updated_config(
        &self,
        _config: &datafusion::common::config::ConfigOptions,
    ) -> Option<ScalarUDF> {
        // None of the bounded functions reads the configuration; keeping the wrapper matters.
        None
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.inner().simplify(args, info)
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> Result<PreimageResult> {
        self.inner.inner().preimage(args, lit_expr, info)
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.inner().conditional_arguments(args)
    }

    fn short_circuits(&self) -> bool {
        self.inner.inner().short_circuits()
    }

    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.inner.inner().evaluate_bounds(input)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> Result<Option<Vec<Interval>>> {
        self.inner.inner().propagate_constraints(interval, inputs)
    }

    fn struct_field_mapping(
        &self,
        literal_args: &[Option<ScalarValue>],
    ) -> Option<StructFieldMapping> {
        self.inner.inner().struct_field_mapping(literal_args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.inner().output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.inner().preserves_lex_ordering(inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.inner().strictly_order_preserving(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.inner().documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.inner.inner().placement(args)
    }
}

/// One argument read row by row; a scalar is not repeated into an array to be read.
enum Values {
    Scalar(ScalarValue),
    Array(ArrayRef),
}

impl Values {
    fn of(value: &ColumnarValue) -> Values {
        match value {
            ColumnarValue::Scalar(s) => Values::Scalar(s.clone()),
            ColumnarValue::Array(a) => Values::Array(a.clone()),
        }
    }

    /// The argument cast to `to` (whole numbers to Int64, times to nanoseconds).
    fn cast(value: &ColumnarValue, to: &DataType) -> Result<Values> {
        Ok(match value {
            ColumnarValue::Scalar(s) => Values::Scalar(s.cast_to(to)?),
            ColumnarValue::Array(a) => Values::Array(cast(a, to)?),
        })
    }

    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Values::Scalar(s) => s.try_as_str().flatten(),
            Values::Array(a) if a.is_valid(row) => match a.data_type() {
                DataType::Utf8 => Some(a.as_string::<i32>().value(row)),
                DataType::LargeUtf8 => Some(a.as_string::<i64>().value(row)),
                DataType::Utf8View => Some(a.as_string_view().value(row)),
                _ => None,
            },
            Values::Array(_) => None,
        }
    }

    /// An Int64 or Timestamp(ns or s) value as a number (after [`Values::cast`]).
    fn number(&self, row: usize) -> Option<i128> {
        match self {
            Values::Scalar(ScalarValue::Int64(v))
            | Values::Scalar(ScalarValue::TimestampNanosecond(v, _))
            | Values::Scalar(ScalarValue::TimestampSecond(v, _)) => v.map(i128::from),
            Values::Scalar(_) => None,
            Values::Array(a) if a.is_valid(row) => match a.data_type() {
                DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(row).into()),
                DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(
                    a.as_primitive::<TimestampNanosecondType>()
                        .value(row)
                        .into(),
                ),
                DataType::Timestamp(TimeUnit::Second, _) => {
                    Some(a.as_primitive::<TimestampSecondType>().value(row).into())
                }
                _ => None,
            },
            Values::Array(_) => None,
        }
    }

    /// The bytes one value of this argument takes (for a list element repeated).
    /// (An array's average: its memory over its length.)
    fn value_bytes(&self) -> u128 {
        match self {
            Values::Scalar(s) => s.size() as u128,
            Values::Array(a) if a.is_empty() => 0,
            Values::Array(a) => (a.get_array_memory_size() / a.len()).max(1) as u128,
        }
    }
}

fn arg(args: &[ColumnarValue], i: usize) -> Option<&ColumnarValue> {
    args.get(i)
}

fn count_arg(args: &[ColumnarValue], i: usize) -> Result<Option<Values>> {
    arg(args, i)
        .map(|a| Values::cast(a, &DataType::Int64))
        .transpose()
}

/// `repeat(text, n)`: the text's bytes n times over.
fn repeat_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let (Some(text), Some(n)) = (arg(args, 0).map(Values::of), count_arg(args, 1)?) else {
        return Ok(0);
    };
    Ok((0..rows)
        .map(|r| {
            let len = text.text(r).map_or(0, str::len) as u128;
            len * n.number(r).unwrap_or(0).max(0) as u128
        })
        .sum())
}

/// `lpad(text, n [, fill])`, `rpad`: n characters of up to four bytes each (one for an ASCII
/// fill, the default being a space).
fn pad_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let Some(n) = count_arg(args, 1)? else {
        return Ok(0);
    };
    let fill = arg(args, 2).map(Values::of);
    Ok((0..rows)
        .map(|r| {
            let per_char = match fill.as_ref().and_then(|f| f.text(r)) {
                Some(f) if !f.is_ascii() => 4,
                _ => 1,
            };
            n.number(r).unwrap_or(0).max(0) as u128 * per_char
        })
        .sum())
}

/// `replace(text, from, to)`: the text, plus `to` once for every match of `from` (an empty
/// `from` matches between every two characters).
fn replace_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let [text, from, to] = [0, 1, 2].map(|i| arg(args, i).map(Values::of));
    let (Some(text), Some(from), Some(to)) = (text, from, to) else {
        return Ok(0);
    };
    Ok((0..rows)
        .map(|r| {
            let Some(t) = text.text(r) else { return 0 };
            let matches = from.text(r).map_or(0, |f| t.matches(f).count()) as u128;
            t.len() as u128 + matches * to.text(r).map_or(0, str::len) as u128
        })
        .sum())
}

/// `regexp_replace(text, pattern, replacement [, flags])`: the text, plus the replacement once
/// for every match — at most one per character and one at the end with `g`, one without — plus,
/// for every `$n` or `\n` in it, the matched text, which over all matches is at most the text.
fn regexp_replace_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let [text, _, replacement, flags] = [0, 1, 2, 3].map(|i| arg(args, i).map(Values::of));
    let (Some(text), Some(replacement)) = (text, replacement) else {
        return Ok(0);
    };
    Ok((0..rows)
        .map(|r| {
            let Some(t) = text.text(r) else { return 0 };
            let len = t.len() as u128;
            let global = flags
                .as_ref()
                .and_then(|f| f.text(r))
                .is_some_and(|f| f.contains('g'));
            let matches = if global { len + 1 } else { 1 };
            let repl = replacement.text(r).unwrap_or("");
            let references = repl.matches(['$', '\\']).count() as u128;
            len + matches * repl.len() as u128 + references * len
        })
        .sum())
}

/// `range(stop)`, `range(start, stop [, step])`, `generate_series`: eight bytes per element;
/// for dates and timestamps the step's months count as 28 days, its days as 24 hours.
fn range_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let is_time = args.first().is_some_and(|a| {
        matches!(
            a.data_type(),
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        )
    });
    let elements: Vec<u128> = if is_time {
        let (Some(start), Some(stop), Some(step)) = (
            arg(args, 0).map(nanoseconds).transpose()?,
            arg(args, 1).map(nanoseconds).transpose()?,
            arg(args, 2).map(Values::of),
        ) else {
            return Ok(0);
        };
        (0..rows)
            .map(|r| {
                let step = match &step {
                    Values::Scalar(ScalarValue::IntervalMonthDayNano(Some(i))) => Some(*i),
                    Values::Array(a) if a.is_valid(r) => a
                        .as_primitive_opt::<arrow::datatypes::IntervalMonthDayNanoType>()
                        .map(|a| a.value(r)),
                    _ => None,
                };
                let step = step.map_or(0, |i| {
                    const DAY: i128 = 86_400 * 1_000_000_000;
                    i128::from(i.months) * 28 * DAY
                        + i128::from(i.days) * DAY
                        + i128::from(i.nanoseconds)
                });
                elements(start.at(r), stop.at(r), Some(step))
            })
            .collect()
    } else {
        let ints: Vec<Option<Values>> =
            (0..3).map(|i| count_arg(args, i)).collect::<Result<_>>()?;
        (0..rows)
            .map(|r| {
                let at = |i: usize| ints[i].as_ref().and_then(|v| v.number(r));
                match args.len() {
                    1 => elements(Some(0), at(0), Some(1)),
                    2 => elements(at(0), at(1), Some(1)),
                    _ => elements(at(0), at(1), at(2)),
                }
            })
            .collect()
    };
    Ok(elements.iter().map(|n| n * 8).sum())
}

/// A date or timestamp argument in nanoseconds since 1970, read row by row.
struct Nanoseconds {
    values: Values,
    /// 1 when cast to nanoseconds; 10⁹ when the values lie outside what nanoseconds hold
    /// (before 1677 or after 2262) and were cast to seconds instead.
    scale: i128,
}

impl Nanoseconds {
    fn at(&self, row: usize) -> Option<i128> {
        self.values.number(row).map(|v| v * self.scale)
    }
}

fn nanoseconds(value: &ColumnarValue) -> Result<Nanoseconds> {
    match Values::cast(value, &DataType::Timestamp(TimeUnit::Nanosecond, None)) {
        Ok(values) => Ok(Nanoseconds { values, scale: 1 }),
        Err(_) => Ok(Nanoseconds {
            values: Values::cast(value, &DataType::Timestamp(TimeUnit::Second, None))?,
            scale: 1_000_000_000,
        }),
    }
}

/// How many elements a range from `start` to `stop` by `step` holds (a step of zero or the
/// wrong sign holds none; the function reports those itself).
fn elements(start: Option<i128>, stop: Option<i128>, step: Option<i128>) -> u128 {
    match (start, stop, step) {
        (Some(start), Some(stop), Some(step))
            if step != 0 && (stop - start) * step.signum() >= 0 =>
        {
            ((stop - start) / step).unsigned_abs() + 1
        }
        _ => 0,
    }
}

/// `array_repeat(element, n)`: the element's bytes n times over.
fn array_repeat_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let (Some(element), Some(n)) = (arg(args, 0).map(Values::of), count_arg(args, 1)?) else {
        return Ok(0);
    };
    Ok((0..rows)
        .map(|r| element.value_bytes() * n.number(r).unwrap_or(0).max(0) as u128)
        .sum())
}

/// `array_resize(list, n [, fill])`: n elements of at most the fill's or the list's element size.
fn array_resize_bound(args: &[ColumnarValue], rows: usize) -> Result<u128> {
    let Some(n) = count_arg(args, 1)? else {
        return Ok(0);
    };
    let fill = arg(args, 2).map(Values::of);
    Ok((0..rows)
        .map(|r| {
            let element = fill.as_ref().map_or(16, |f| f.value_bytes().max(16));
            n.number(r).unwrap_or(0).max(0) as u128 * element
        })
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::run;

    fn context(max_function_output_mb: u64) -> (SessionContext, Limits) {
        let limits = Limits {
            max_function_output_mb,
            ..Limits::default()
        };
        let ctx = SessionContext::new();
        bound_functions(&ctx, &limits).unwrap();
        // Twice, as a cached session does: still one check, same answers.
        bound_functions(&ctx, &limits).unwrap();
        (ctx, limits)
    }

    async fn refused(ctx: &SessionContext, limits: &Limits, sql: &str) -> String {
        let queue = crate::guard::Queue::of(&["bounded-tests".to_string()], limits).unwrap();
        let err = run(ctx, sql, limits, &queue).await.expect_err(sql);
        assert_eq!(err.sqlstate(), "53200", "{sql}: {err}");
        err.to_string()
    }

    async fn answer(ctx: &SessionContext, limits: &Limits, sql: &str) -> String {
        let queue = crate::guard::Queue::of(&["bounded-tests".to_string()], limits).unwrap();
        let (_, batches) = run(ctx, sql, limits, &queue)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn functions_that_build_gigabytes_are_refused_before_building() {
        let (ctx, limits) = context(1);
        for sql in [
            "select length(repeat('x', 800000000))",
            "select length(lpad('x', 800000000))",
            "select length(rpad('x', 2000000, '党'))",
            "select length(replace(replace(repeat('a', 1000), 'a', repeat('b', 1000)), 'b', repeat('c', 1000)))",
            "select length(regexp_replace(repeat('a', 2000), 'a', repeat('b', 2000), 'g'))",
            "select cardinality(range(300000000))",
            "select cardinality(generate_series(1, 300000000))",
            "select cardinality(range(timestamp '2000-01-01', timestamp '2030-01-01', interval '1 second'))",
            "select cardinality(range(date '1000-01-01', date '9000-01-01', interval '1 day'))",
            "select cardinality(array_repeat(array_repeat(1, 1000), 1000))",
            "select cardinality(array_resize([1], 300000000))",
            "select cardinality(list_repeat('x', 300000000))",
            // 100 kB per row is small; 8,192 rows of it in one batch are not.
            "select max(length(repeat('x', 100000 + v % 2))) from generate_series(1, 20000) as t(v)",
        ] {
            let message = refused(&ctx, &limits, sql).await;
            assert!(
                message.contains("max_function_output_mb"),
                "{sql}: {message}"
            );
        }
        let message = refused(&ctx, &limits, "select repeat('x', 800000000)").await;
        assert!(
            message.contains("repeat() would build up to 800000000 bytes"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn the_same_functions_answer_as_before_within_the_limit() {
        let (ctx, limits) = context(1);
        let plain = SessionContext::new();
        for sql in [
            "select repeat('ab', 3), lpad('7', 6, '0'), rpad('党', 3, '员'), lpad('x', 3)",
            "select replace('主题党日:走访', ':', '：'), replace('aaa', '', '-')",
            "select regexp_replace('a1b22c', '[0-9]+', '#', 'g'), regexp_replace('ab', '(a)', '$1$1')",
            // A reference in the replacement stands for the match, not the whole text each time.
            "select length(regexp_replace(repeat('a', 2000), '(a)', '$1-', 'g'))",
            "select range(5), range(2, 11, 3), generate_series(3, 1, -1), range(1, 1)",
            "select range(date '2024-01-01', date '2024-03-01', interval '1 month')",
            "select generate_series(timestamp '2024-01-01', timestamp '2024-01-01T03:00:00', interval '1 hour')",
            "select array_repeat('x', 3), array_resize([1, 2], 4, 0), list_repeat(1, 2)",
            "select repeat(v, 2), lpad(v, 4, '0') from (values ('1'), ('22'), (null)) as t(v)",
            "select repeat('x', null), range(null, 3)",
        ] {
            let expected = answer(&plain, &Limits::default(), sql).await;
            assert_eq!(answer(&ctx, &limits, sql).await, expected, "{sql}");
        }
    }
}
